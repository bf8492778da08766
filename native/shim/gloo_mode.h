// tcpstore-shim client --gloo-rank R --world-size N: before answering commands, the client joins a
// real c10d::ProcessGroupGloo of N ranks over its store, with the store wrapping PyTorch's Python
// layer adds for the default group on CPU (PrefixStore "0/" then "cpu/"), so the key traffic is
// exactly what init_process_group("gloo") sends. "ready" is printed once gloo's full mesh is
// connected; with ranks missing, construction blocks (until --timeout-ms) as a real job stalls.
// The "barrier MS" command then runs ProcessGroupGloo::barrier, a collective that travels over
// gloo's own TCP pairs, not the store.
// Included by tcpstore_shim.cpp inside its anonymous namespace (gloo_decls.h at file scope).
#pragma once

#include <stdexcept>
#include <vector>


c10d::ProcessGroupGloo* connectGloo(c10d::TCPStore* tcpStore, const Args& a) {
  if (a.worldSize <= 0) throw BadInput("--gloo-rank needs --world-size");
  c10d::pinRefcount(tcpStore);
  auto* base = reinterpret_cast<c10d::Store*>(tcpStore);  // Store is TCPStore's primary base

  auto* group = new c10d::PrefixStore("0/", c10::intrusive_ptr<c10d::Store>(base));
  c10d::pinRefcount(group);
  auto* device = new c10d::PrefixStore("cpu/", c10::intrusive_ptr<c10d::Store>(reinterpret_cast<c10d::Store*>(group)));
  c10d::pinRefcount(device);

  auto* options = new c10d::ProcessGroupGloo::Options(std::chrono::milliseconds(a.timeoutMs));
  c10d::pinRefcount(options);
  // Check the layout before writing into it: threads defaults to 2, devices is an empty vector.
  int threads = 0;
  std::memcpy(&threads, reinterpret_cast<char*>(options) + c10d::ProcessGroupGloo::Options::kThreadsOffset, sizeof threads);
  char emptyVector[3 * sizeof(void*)] = {};
  if (threads != 2 || std::memcmp(reinterpret_cast<char*>(options) + c10d::ProcessGroupGloo::Options::kDevicesOffset, emptyVector, sizeof emptyVector) != 0) {
    throw std::runtime_error("unexpected ProcessGroupGloo::Options layout");
  }
  auto* devices = new std::vector<std::shared_ptr<gloo::transport::Device>>();
  devices->push_back(c10d::ProcessGroupGloo::createDefaultDevice(false));
  // Options' devices vector is empty after construction; give it our vector's three pointers
  // (our vector object is leaked, never destroyed, so the buffer has exactly one owner).
  std::memcpy(reinterpret_cast<char*>(options) + c10d::ProcessGroupGloo::Options::kDevicesOffset, devices, sizeof *devices);

  c10::intrusive_ptr<c10d::Store> store(reinterpret_cast<c10d::Store*>(device));
  c10::intrusive_ptr<c10d::ProcessGroupGloo::Options> optionsPtr(options);
  // The library prints "[Gloo] Rank R is connected to ..." on stdout, which carries only our
  // protocol lines: send stdout to stderr while it runs.
  std::fflush(stdout);
  std::cout.flush();
  const int savedStdout = dup(STDOUT_FILENO);
  dup2(STDERR_FILENO, STDOUT_FILENO);
  c10d::ProcessGroupGloo* processGroup = nullptr;
  try {
    processGroup = new c10d::ProcessGroupGloo(store, static_cast<int>(a.glooRank), static_cast<int>(a.worldSize), optionsPtr);
  } catch (...) {
    std::fflush(stdout);
    std::cout.flush();
    dup2(savedStdout, STDOUT_FILENO);
    close(savedStdout);
    throw;
  }
  std::fflush(stdout);
  std::cout.flush();
  dup2(savedStdout, STDOUT_FILENO);
  close(savedStdout);
  // Nothing holds the processGroup by reference count yet (its count word is still zero); pin it like the
  // objects above, so a reference taken and dropped inside the library never frees it.
  std::uint64_t counts = 1;
  std::memcpy(&counts, reinterpret_cast<char*>(processGroup) + 8, sizeof counts);
  if (counts != 0) throw std::runtime_error("unexpected ProcessGroupGloo reference count word");
  c10d::pinRefcount(processGroup);
  return processGroup;
}

// "barrier MS": ProcessGroupGloo::barrier with its timeout set to MS, then Work::wait. Replies "ok"
// once every rank of the group has entered the barrier; with a rank missing it blocks until gloo's
// own timeout fails the work, and the reply is that error.
std::string glooBarrier(c10d::ProcessGroupGloo* group, const std::vector<std::string>& t) {
  if (group == nullptr) throw BadInput("barrier needs --gloo-rank");
  need(t, 2);
  const long long ms = parseInteger(t[1], "timeout");
  if (ms <= 0) throw BadInput("barrier timeout must be positive");
  c10d::BarrierOptions options;
  options.timeout = std::chrono::milliseconds(ms);
  c10::intrusive_ptr<c10d::Work> work = group->barrier(options);
  // gloo's timeout fails the work first; the margin only guards against a work that never ends.
  work.target_->wait(std::chrono::milliseconds(ms) + std::chrono::seconds(30));
  return "ok";
}
