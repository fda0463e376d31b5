#pragma once
// Threads that other processes leave free. Every parallel loop tervit runs (LibTorch's, OpenBLAS's, the
// packed kernels') splits its work evenly over its threads up front, so a loop takes as long as its
// slowest thread; with another process on one of the cores, the thread sharing that core runs at a
// fraction of its speed, and 2 threads ran a deit_tiny training step 5-12% slower than 1 did. So the
// programs use at most as many threads as there are cores that other processes left idle, re-read from
// the kernel's CPU accounting ten times a second (a change holds for two readings in a row, the first
// reading alone), and never more than the user asked for. TERVIT_FIXED_THREADS=1 keeps the count the user
// asked for. LibTorch-free.
#include <chrono>
#include <functional>
#include <vector>

namespace tervit {

// The most threads (or loader workers) any option or config key takes: far above any machine's cores, low
// enough that an absurd count is refused by name instead of started.
constexpr int kMaxThreads = 1024;

// Busy time of the CPUs this process may run on (from /proc/stat) against this process's own CPU time.
class OtherProcessesLoad {
 public:
  OtherProcessesLoad();
  // Cores that other processes (and the hypervisor, as steal time) kept busy on average since the previous
  // call or construction; 0 where /proc/stat cannot be read.
  double busy_cores();
  // The CPUs this process may run on (its affinity mask).
  int cpu_count() const { return static_cast<int>(cpus_.size()); }

 private:
  struct Sample {
    double all_busy_seconds = 0;  // every process's, on this process's CPUs
    double own_seconds = 0;
    std::chrono::steady_clock::time_point time;
  };
  Sample take_sample() const;

  std::vector<int> cpus_;
  Sample last_;
};

// `requested` threads, less the cores other processes keep busy (rounded to the nearest core), at least 1.
int threads_left_free(int requested, int cpu_count, double others_busy_cores);

// The process's budget: `requested` threads at most, applied through `apply` (LibTorch's or OpenMP's
// setter). Replaces the previous budget; applies `requested` at once.
void start_thread_budget(int requested, std::function<void(int)> apply);

// Called once per unit of work (a training step, a batch, an image) on the thread that runs the parallel
// loops: at most ten times a second it re-reads the load, and applies a new count that two readings in a
// row gave; the first reading, 40 ms after start_thread_budget, is applied alone. Does nothing before
// start_thread_budget.
void adapt_threads();

}  // namespace tervit
