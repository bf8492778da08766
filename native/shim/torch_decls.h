// Hand-written minimal declarations for the parts of libtorch_cpu.so (PyTorch
// 2.10.0, Linux x86-64, libstdc++ new ABI) that tcpstore-shim calls.
//
// libtorch does not ship headers in the NuGet package, so these declarations
// only reproduce what the linker and the calling convention need:
//   * the exact memory layout of the options struct (it is passed by reference
//     and read by the library), and
//   * the mangled names of the exported member functions (mangling encodes the
//     class, the name and the parameter types; it does not encode the return
//     type or whether a member is virtual, so plain non-virtual declarations
//     bind to the exported symbols). Return types still have to be right for
//     the calling convention, and were checked against the library.
//
// The object itself is opaque to us: we over-allocate raw storage and let the
// library's constructor fill it in.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace c10d {

// Field order and types must match the library's options struct exactly.
// Offsets on x86-64: port 0, isServer 2, numWorkers 8 (16 bytes),
// waitWorkers 24, timeout 32, multiTenant 40, masterListenFd 44 (8 bytes),
// useLibUV 52; sizeof == 56.
struct TCPStoreOptions {
  std::uint16_t port = 29500;
  bool isServer = false;
  std::optional<std::size_t> numWorkers;
  bool waitWorkers = true;
  std::chrono::milliseconds timeout{300000};
  bool multiTenant = false;
  std::optional<int> masterListenFd;
  bool useLibUV = true;
};

static_assert(sizeof(TCPStoreOptions) == 56, "unexpected options layout");
static_assert(offsetof(TCPStoreOptions, numWorkers) == 8, "layout");
static_assert(offsetof(TCPStoreOptions, waitWorkers) == 24, "layout");
static_assert(offsetof(TCPStoreOptions, timeout) == 32, "layout");
static_assert(offsetof(TCPStoreOptions, multiTenant) == 40, "layout");
static_assert(offsetof(TCPStoreOptions, masterListenFd) == 44, "layout");
static_assert(offsetof(TCPStoreOptions, useLibUV) == 52, "layout");

class TCPStore {
 public:
  TCPStore(std::string host, const TCPStoreOptions& opts);
  ~TCPStore();

  void set(const std::string& key, const std::vector<std::uint8_t>& value);
  std::vector<std::uint8_t> compareSet(const std::string& key,
                                       const std::vector<std::uint8_t>& expected,
                                       const std::vector<std::uint8_t>& desired);
  std::vector<std::uint8_t> get(const std::string& key);
  std::int64_t add(const std::string& key, std::int64_t delta);
  bool deleteKey(const std::string& key);
  bool check(const std::vector<std::string>& keys);
  std::int64_t getNumKeys();
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout);
  void append(const std::string& key, const std::vector<std::uint8_t>& value);
  std::vector<std::vector<std::uint8_t>> multiGet(
      const std::vector<std::string>& keys);
  void multiSet(const std::vector<std::string>& keys,
                const std::vector<std::vector<std::uint8_t>>& values);
  void ping();
  void queuePush(const std::string& key, const std::vector<std::uint8_t>& value);
  std::vector<std::uint8_t> queuePop(const std::string& key, bool block);
  std::int64_t queueLen(const std::string& key);
  std::vector<std::string> listKeys();

  // Only used for a diagnostic cross-check of the port found via /proc:
  // the library keeps the resolved port (uint16) at this byte offset
  // (after the vtable pointer, the refcount word, the base timeout and the
  // host string). Confirmed by the client pointer living at 0x50.
  static constexpr std::size_t kPortOffsetForDiagnostics = 56;

  // Over-sized opaque storage; the real object is far smaller.
  alignas(16) char storage_[8192];
};

}  // namespace c10d
