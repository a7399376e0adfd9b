// TCP traffic for the NetworkPolicy benchmark, on sockets made inside the pod namespaces
// (a socket stays in the namespace it was made in, whichever thread uses it): a server that
// answers every byte with one byte, and clients that open short connections through the
// node (connect, one byte each way, close), one at a time for latency, many at once for
// connections per second, and a prober that tries a new one every millisecond to see when a
// policy change takes effect.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/result.h"

namespace routelet::bench::policy {

using Clock = std::chrono::steady_clock;

// Listens on address:port for each port inside the namespace at nsPath; one thread, epoll.
class EchoServer {
 public:
  static Result<std::unique_ptr<EchoServer>> start(const std::string& nsPath,
                                                   const std::string& address,
                                                   const std::vector<uint16_t>& ports);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  // CPU time of its thread so far, packet processing done in its context included.
  double cpuMs() const;
  EchoServer& operator=(const EchoServer&) = delete;

 private:
  EchoServer() = default;
  void loop();
  int epoll_ = -1;
  std::vector<int> listeners_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

struct Sequential {
  std::vector<double> us;  // connect() → close() of each
  double cpuMs = 0;        // the client thread's CPU time over all of them
};
// `count` connections one after another from a thread inside the namespace at nsPath, after
// `warmup` untimed ones. Any connection that fails (1 s timeout) is an error: the policy
// refused a client it should allow.
//
// CPU time: a packet sent on a veth is processed in the sender's context (the node's
// bridge, its netfilter hooks, the peer's TCP), and this kernel charges that softirq work to
// the task it interrupts (no IRQ time accounting), so the client's and the server's threads
// hold nearly all the CPU a connection costs, whatever else the machine runs.
Result<Sequential> sequential(const std::string& nsPath, const std::string& address, uint16_t port,
                              int count, int warmup);

struct Burst {
  double seconds = 0;      // from the first connect to the last close
  uint64_t done = 0;       // connections completed
  uint64_t failed = 0;     // refused, timed out (1 s) or without a local port
  std::vector<double> us;  // connect → close of each completed one
  double cpuMs = 0;        // the client thread's CPU time
};
// `inFlight` connections at a time for `seconds`, from one thread inside the namespace.
Result<Burst> burst(const std::string& nsPath, const std::string& address, uint16_t port,
                    int inFlight, double seconds);

// A connection attempt every `interval` from a thread inside the namespace at nsPath, each
// given up after `timeout` (the policy drops what it refuses: no answer, no reset).
class Prober {
 public:
  struct Attempt {
    Clock::time_point start;  // connect() called
    Clock::time_point end;    // connected (SYN-ACK back), or given up
    bool ok = false;
  };
  static Result<std::unique_ptr<Prober>> start(const std::string& nsPath,
                                               const std::string& address, uint16_t port,
                                               std::chrono::microseconds interval,
                                               std::chrono::milliseconds timeout);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Attempts resolved so far, in the order they resolved.
  std::vector<Attempt> resolved() const;
  size_t resolvedCount() const;
  // An error the thread met (it stops probing then), or "".
  std::string error() const;

 private:
  Prober() = default;
  void loop(const std::string& nsPath);
  std::string address_;
  uint16_t port_ = 0;
  std::chrono::microseconds interval_{1000};
  std::chrono::milliseconds timeout_{20};
  mutable std::mutex mu_;
  std::vector<Attempt> resolved_;
  std::string error_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
};

}  // namespace routelet::bench::policy
