// tcpstore-shim: drive PyTorch's real c10d TCPStore (from libtorch_cpu.so)
// from the command line, so that the C# test-suite can check interop against
// the reference implementation.
//
//   tcpstore-shim server --port P --libuv 0|1 [--host 127.0.0.1]
//   tcpstore-shim client --host H --port P [--timeout-ms N] [--world-size N]
//                        [--libuv 0|1] [--gloo-rank R]
//
// See README.md next to this file for the full line protocol.

#include <cxxabi.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <typeinfo>
#include <vector>

#include "torch_decls.h"
#include "gloo_decls.h"

namespace {

using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  tcpstore-shim server --port P --libuv 0|1 [--host H]\n"
               "  tcpstore-shim client --host H --port P [--timeout-ms N] "
               "[--world-size N] [--libuv 0|1] [--gloo-rank R]\n");
  std::exit(2);
}

// ---------------------------------------------------------------- helpers --

int hexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct BadInput : std::exception {
  std::string msg;
  explicit BadInput(std::string m) : msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};

Bytes fromHex(const std::string& token) {
  Bytes out;
  if (token == "-") return out;
  if (token.size() % 2 != 0) throw BadInput("odd-length hex token: " + token);
  out.reserve(token.size() / 2);
  for (std::size_t i = 0; i < token.size(); i += 2) {
    int hi = hexNibble(token[i]);
    int lo = hexNibble(token[i + 1]);
    if (hi < 0 || lo < 0) throw BadInput("invalid hex token: " + token);
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

std::string keyFromHex(const std::string& token) {
  Bytes b = fromHex(token);
  return std::string(b.begin(), b.end());
}

template <typename Container>
std::string toHex(const Container& data) {
  if (data.empty()) return "-";
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (auto ch : data) {
    auto v = static_cast<unsigned char>(ch);
    out.push_back(digits[v >> 4]);
    out.push_back(digits[v & 0xF]);
  }
  return out;
}

long long parseInteger(const std::string& s, const char* what) {
  if (s.empty()) throw BadInput(std::string("missing ") + what);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (errno != 0 || end == s.c_str() || *end != '\0') {
    throw BadInput(std::string("bad ") + what + ": " + s);
  }
  return v;
}

std::vector<std::string> splitSpaces(const std::string& line) {
  std::vector<std::string> tokens;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t pos = line.find(' ', start);
    if (pos == std::string::npos) pos = line.size();
    if (pos > start) tokens.push_back(line.substr(start, pos - start));
    start = pos + 1;
  }
  return tokens;
}

// One line, no control characters; drops the C++ backtrace section that
// c10::Error appends to its message.
std::string oneLine(std::string msg) {
  auto bt = msg.find("Exception raised from ");
  if (bt != std::string::npos) msg.erase(bt);
  for (char& c : msg) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  return msg;
}

std::string currentExceptionTypeName() {
  std::type_info* t = abi::__cxa_current_exception_type();
  if (t == nullptr) return "unknown";
  int status = 0;
  char* demangled = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
  std::string name = (status == 0 && demangled) ? demangled : t->name();
  std::free(demangled);
  return name;
}

// "err <type>: <message>" for the exception currently being handled.
std::string describeCurrentException() {
  std::string type = currentExceptionTypeName();
  try {
    throw;
  } catch (const BadInput& e) {
    return "bad input: " + oneLine(e.what());
  } catch (const std::exception& e) {
    return type + ": " + oneLine(e.what());
  } catch (...) {
    return type + ": (non-std exception)";
  }
}

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Finds the TCP port of the (single) listening socket this process owns by
// matching the socket inodes in /proc/self/fd against /proc/net/tcp{,6}.
// The library does not export a port accessor.
int findOwnListeningPort() {
  std::set<unsigned long> inodes;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      char path[300];
      char target[128];
      std::snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
      ssize_t n = readlink(path, target, sizeof(target) - 1);
      if (n <= 0) continue;
      target[n] = '\0';
      unsigned long ino = 0;
      if (std::sscanf(target, "socket:[%lu]", &ino) == 1) inodes.insert(ino);
    }
    closedir(d);
  }
  for (const char* table : {"/proc/net/tcp6", "/proc/net/tcp"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      std::string slot, local, remote, state, queues, timer, retr, uid, timeout;
      unsigned long ino = 0;
      if (!(ls >> slot >> local >> remote >> state >> queues >> timer >> retr >>
            uid >> timeout >> ino)) {
        continue;
      }
      if (state != "0A" || inodes.count(ino) == 0) continue;  // 0A = LISTEN
      auto colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      return static_cast<int>(std::strtol(local.c_str() + colon + 1, nullptr, 16));
    }
  }
  return -1;
}

struct Args {
  std::string mode;
  std::string host = "127.0.0.1";
  long long port = -1;
  int libuv = -1;
  long long timeoutMs = 30000;
  long long worldSize = -1;
  long long glooRank = -1;
};

Args parseArgs(int argc, char** argv) {
  if (argc < 2) usage();
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) usage();
    std::string value = argv[++i];
    try {
      if (flag == "--host") a.host = value;
      else if (flag == "--port") a.port = parseInteger(value, "port");
      else if (flag == "--libuv") a.libuv = static_cast<int>(parseInteger(value, "libuv"));
      else if (flag == "--timeout-ms") a.timeoutMs = parseInteger(value, "timeout");
      else if (flag == "--world-size") a.worldSize = parseInteger(value, "world size");
      else if (flag == "--gloo-rank") a.glooRank = parseInteger(value, "gloo rank");
      else usage();
    } catch (const BadInput& e) {
      std::fprintf(stderr, "%s\n", e.what());
      usage();
    }
  }
  if (a.port < 0 || a.port > 65535) usage();
  return a;
}

// ----------------------------------------------------------------- server --

int runServer(const Args& a) {
  if (a.libuv != 0 && a.libuv != 1) usage();

  // Block the termination signals before the library starts its threads so
  // that only our signalfd ever sees them.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(a.port);
  opts.isServer = true;
  opts.numWorkers = std::nullopt;
  opts.waitWorkers = false;
  opts.timeout = std::chrono::milliseconds(a.timeoutMs);
  opts.multiTenant = false;
  opts.masterListenFd = std::nullopt;
  opts.useLibUV = a.libuv == 1;

  c10d::TCPStore* store = nullptr;
  try {
    store = new c10d::TCPStore(a.host, opts);
  } catch (...) {
    emit("err " + describeCurrentException());
    return 1;
  }

  int port = findOwnListeningPort();
  std::uint16_t internal = 0;
  std::memcpy(&internal,
              reinterpret_cast<const char*>(store) +
                  c10d::TCPStore::kPortOffsetForDiagnostics,
              sizeof(internal));
  if (port < 0) {
    port = internal;
  } else if (port != internal) {
    std::fprintf(stderr, "tcpstore-shim: warning: /proc port %d != store port %u\n",
                 port, static_cast<unsigned>(internal));
  }
  emit("listening on 127.0.0.1:" + std::to_string(port));

  // Wait for EOF on stdin or a termination signal.
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
    int n = poll(fds, sfd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents & POLLIN) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
      ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
    }
  }
  std::fflush(stdout);
  // Skip the library's teardown (joining server threads); the kernel closes
  // every socket when the process exits.
  _exit(0);
}

// ----------------------------------------------------------------- client --

std::string join(const std::vector<std::string>& parts) {
  std::string out = "ok";
  for (const auto& p : parts) {
    out.push_back(' ');
    out += p;
  }
  return out;
}

void need(const std::vector<std::string>& t, std::size_t n) {
  if (t.size() != n) {
    throw BadInput(t[0] + " expects " + std::to_string(n - 1) + " argument(s)");
  }
}

std::vector<std::string> keysFrom(const std::vector<std::string>& t, std::size_t first) {
  std::vector<std::string> keys;
  for (std::size_t i = first; i < t.size(); ++i) keys.push_back(keyFromHex(t[i]));
  return keys;
}

// Executes one command line; returns the response line (without "\n").
std::string execute(c10d::TCPStore& s, const std::vector<std::string>& t) {
  const std::string& cmd = t[0];
  if (cmd == "set") {
    need(t, 3);
    s.set(keyFromHex(t[1]), fromHex(t[2]));
    return "ok";
  }
  if (cmd == "get") {
    need(t, 2);
    return "ok " + toHex(s.get(keyFromHex(t[1])));
  }
  if (cmd == "add") {
    need(t, 3);
    return "ok " + std::to_string(s.add(keyFromHex(t[1]), parseInteger(t[2], "delta")));
  }
  if (cmd == "cas") {
    need(t, 4);
    return "ok " + toHex(s.compareSet(keyFromHex(t[1]), fromHex(t[2]), fromHex(t[3])));
  }
  if (cmd == "check") {
    return std::string("ok ") + (s.check(keysFrom(t, 1)) ? "1" : "0");
  }
  if (cmd == "wait") {
    if (t.size() < 2) throw BadInput("wait expects TIMEOUT_MS KEY...");
    std::chrono::milliseconds timeout(parseInteger(t[1], "timeout"));
    s.wait(keysFrom(t, 2), timeout);
    return "ok";
  }
  if (cmd == "del") {
    need(t, 2);
    return std::string("ok ") + (s.deleteKey(keyFromHex(t[1])) ? "1" : "0");
  }
  if (cmd == "append") {
    need(t, 3);
    s.append(keyFromHex(t[1]), fromHex(t[2]));
    return "ok";
  }
  if (cmd == "mget") {
    std::vector<std::string> parts;
    for (const auto& v : s.multiGet(keysFrom(t, 1))) parts.push_back(toHex(v));
    return join(parts);
  }
  if (cmd == "mset") {
    if (t.size() % 2 != 1) throw BadInput("mset expects KEY VALUE pairs");
    std::vector<std::string> keys;
    std::vector<Bytes> values;
    for (std::size_t i = 1; i < t.size(); i += 2) {
      keys.push_back(keyFromHex(t[i]));
      values.push_back(fromHex(t[i + 1]));
    }
    s.multiSet(keys, values);
    return "ok";
  }
  if (cmd == "numkeys") {
    need(t, 1);
    return "ok " + std::to_string(s.getNumKeys());
  }
  if (cmd == "listkeys") {
    need(t, 1);
    std::vector<std::string> parts;
    for (const auto& k : s.listKeys()) parts.push_back(toHex(k));
    return join(parts);
  }
  if (cmd == "ping") {
    need(t, 1);
    s.ping();
    return "ok";
  }
  if (cmd == "qpush") {
    need(t, 3);
    s.queuePush(keyFromHex(t[1]), fromHex(t[2]));
    return "ok";
  }
  if (cmd == "qpop") {
    need(t, 3);
    bool block = parseInteger(t[2], "block flag") != 0;
    return "ok " + toHex(s.queuePop(keyFromHex(t[1]), block));
  }
  if (cmd == "qlen") {
    need(t, 2);
    return "ok " + std::to_string(s.queueLen(keyFromHex(t[1])));
  }
  throw BadInput("unknown command: " + cmd);
}

#include "gloo_mode.h"

int runClient(const Args& a) {
  c10d::TCPStoreOptions opts;
  opts.port = static_cast<std::uint16_t>(a.port);
  opts.isServer = false;
  if (a.worldSize >= 0) opts.numWorkers = static_cast<std::size_t>(a.worldSize);
  opts.waitWorkers = true;  // with --world-size: the client does ADD init/ 1
  opts.timeout = std::chrono::milliseconds(a.timeoutMs);
  opts.useLibUV = a.libuv != 0;  // the client refuses queue ops locally if false

  c10d::TCPStore* store = nullptr;
  c10d::ProcessGroupGloo* group = nullptr;
  try {
    store = new c10d::TCPStore(a.host, opts);
    if (a.glooRank >= 0) group = connectGloo(store, a);
  } catch (...) {
    emit("err " + describeCurrentException());
    return 1;
  }
  emit("ready");

  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> tokens = splitSpaces(line);
    if (tokens.empty()) {
      emit("err bad input: empty command");
      continue;
    }
    if (tokens[0] == "quit") {
      emit("ok");
      break;
    }
    std::string reply;
    try {
      reply = tokens[0] == "barrier" ? glooBarrier(group, tokens) : execute(*store, tokens);
    } catch (...) {
      reply = "err " + describeCurrentException();
    }
    emit(reply);
  }
  std::fflush(stdout);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  // The libuv server dies from SIGPIPE when a peer vanishes mid-reply.
  signal(SIGPIPE, SIG_IGN);
  std::ios::sync_with_stdio(true);

  Args a = parseArgs(argc, argv);
  if (a.mode == "server") return runServer(a);
  if (a.mode == "client") return runClient(a);
  usage();
}
