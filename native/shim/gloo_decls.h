// Hand-written declarations for reaching c10d::ProcessGroupGloo in libtorch_cpu.so (PyTorch
// 2.10.0, Linux x86-64) from tcpstore-shim, in the style of torch_decls.h: only what the linker
// and the calling convention need. Layouts were read from a constructed object (see
// native/shim/README.md, "gloo"), not from headers, which the NuGet package does not ship.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace c10 {
namespace detail {
template <class T>
struct intrusive_target_default_null_type {
  static constexpr T* singleton() noexcept { return nullptr; }
};
}  // namespace detail

// Same name and template parameters as c10's, so the mangled signatures match. It is one pointer
// with a non-trivial destructor, hence passed by invisible reference like the real one. It never
// releases: every object handed to the library is pinned (see pinRefcount) and lives until _exit.
template <class T, class NullType = detail::intrusive_target_default_null_type<T>>
class intrusive_ptr {
 public:
  explicit intrusive_ptr(T* target) : target_(target) {}
  intrusive_ptr(const intrusive_ptr& other) : target_(other.target_) {}
  ~intrusive_ptr() {}
  T* target_;
};
}  // namespace c10

namespace gloo {
namespace transport {
class Device;
}
}  // namespace gloo

namespace c10d {

class Store;

// Only a non-virtual call to the base member is declared. That is the code a virtual call on a gloo
// barrier work runs: the wait slot of the barrier work's vtable in 2.10 holds c10d::Work::wait itself
// (read from the library's relocations; only gloo's send and receive works override it). It blocks
// until the work completes or the timeout passes, then rethrows the work's error if it failed.
class Work {
 public:
  bool wait(std::chrono::milliseconds timeout);
};

// Field order and sizes follow the 2.10 struct: device ids (a vector), the timeout, an optional
// device (two one-byte fields plus the engaged flag) and the async flag. ProcessGroupGloo::barrier
// reads only the timeout, at byte 24 (seen in its disassembly: the one load from the options
// argument is 0x18(%rdx)); the C# interop test checks at run time that the timeout given here is
// the one gloo reports when a barrier times out.
struct BarrierOptions {
  std::vector<std::int64_t> device_ids;
  std::chrono::milliseconds timeout{-1};
  unsigned char device_[3] = {0, 0, 0};  // std::optional<at::Device>, disengaged
  bool asyncOp = true;
};

class PrefixStore {
 public:
  PrefixStore(std::string prefix, c10::intrusive_ptr<Store> store);
  alignas(16) char storage_[4096];
};

class ProcessGroupGloo {
 public:
  struct Options {
    explicit Options(std::chrono::milliseconds timeout);
    // Read from a constructed 2.10 object: vtable 0, refcount word 8, timeout 16, backend name
    // 24, group name 56, global ranks 88, devices (std::vector) 112, threads (int, 2) 136.
    static constexpr std::size_t kDevicesOffset = 112;
    static constexpr std::size_t kThreadsOffset = 136;
    alignas(16) char storage_[4096];
  };

  static std::shared_ptr<::gloo::transport::Device> createDefaultDevice(bool lazyInit);
  ProcessGroupGloo(const c10::intrusive_ptr<Store>& store, int rank, int size, c10::intrusive_ptr<Options> options);
  c10::intrusive_ptr<Work> barrier(const BarrierOptions& opts);
  alignas(16) char storage_[65536];
};

// Every c10::intrusive_ptr_target keeps its reference counts in the word after the vtable pointer.
// Objects we construct in place start at zero; pin them so no release inside the library can
// ever free them.
inline void pinRefcount(void* object) {
  const std::uint64_t pinned = (1000ull << 32) | 1000ull;
  std::memcpy(static_cast<char*>(object) + 8, &pinned, sizeof pinned);
}

}  // namespace c10d

static_assert(sizeof(c10d::BarrierOptions) == 40, "unexpected BarrierOptions layout");
static_assert(offsetof(c10d::BarrierOptions, timeout) == 24, "unexpected BarrierOptions layout");
