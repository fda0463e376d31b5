#include "tervit/core/thread_budget.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>

namespace tervit {
namespace {

// /proc/stat counts in 10 ms ticks, so a reading gives the load to about a tenth of a core per CPU. A new
// count takes two readings in a row that agree (a fifth of a second): a virtual machine's CPUs are taken
// by the host (steal time) in short bursts, which are not worth changing the count (and the float
// rounding) for.
constexpr std::chrono::milliseconds kResampleInterval{100};
// Except the first reading, taken sooner and applied alone: a program started beside a busy core ran its
// first fifth of a second on threads that waited for each other, 3-8% of a run of a few seconds. A
// burst of steal time at the start costs at most the fifth of a second that two readings take to undo it.
constexpr std::chrono::milliseconds kFirstInterval{40};

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

double own_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Budget {
  int requested = 1;
  int applied = 1;
  int proposed = 1;  // the previous sample's count
  bool first_reading = true;
  bool adapts = true;
  std::function<void(int)> apply;
  OtherProcessesLoad load;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
};

std::mutex budget_mutex;
std::unique_ptr<Budget>& budget() {
  static std::unique_ptr<Budget> instance;
  return instance;
}

}  // namespace

OtherProcessesLoad::OtherProcessesLoad() : cpus_(allowed_cpus()), last_(take_sample()) {}

OtherProcessesLoad::Sample OtherProcessesLoad::take_sample() const {
  Sample sample;
  sample.time = std::chrono::steady_clock::now();
  sample.own_seconds = own_cpu_seconds();
  std::ifstream stat("/proc/stat");
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  for (std::string line; std::getline(stat, line);) {
    // "cpuN user nice system idle iowait irq softirq steal ..." (the "cpu " line is the total)
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] == ' ') continue;
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    fields >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    if (!fields || !std::binary_search(cpus_.begin(), cpus_.end(), cpu)) continue;
    sample.all_busy_seconds += (user + nice + system + irq + softirq + steal) * tick;
  }
  return sample;
}

double OtherProcessesLoad::busy_cores() {
  const auto now = take_sample();
  const double wall = std::chrono::duration<double>(now.time - last_.time).count();
  const double others = (now.all_busy_seconds - last_.all_busy_seconds) - (now.own_seconds - last_.own_seconds);
  last_ = now;
  return wall > 0 ? std::max(0.0, others / wall) : 0.0;
}

int threads_left_free(int requested, int cpu_count, double others_busy_cores) {
  const int free_cores = static_cast<int>(std::lround(cpu_count - others_busy_cores));
  return std::max(1, std::min(requested, free_cores));
}

void start_thread_budget(int requested, std::function<void(int)> apply) {
  std::lock_guard<std::mutex> lock(budget_mutex);
  auto next = std::make_unique<Budget>();
  next->requested = next->applied = next->proposed = std::max(requested, 1);
  // Fixed threads: the thread count can change float rounding (LibTorch's per-thread partial sums), so a
  // run that must repeat bit for bit on a machine whose load varies keeps its count.
  const char* fixed = std::getenv("TERVIT_FIXED_THREADS");
  next->adapts = fixed == nullptr || std::string(fixed).empty() || std::string(fixed) == "0";
  next->apply = std::move(apply);
  next->apply(next->applied);
  budget() = std::move(next);
}

void adapt_threads() {
  std::lock_guard<std::mutex> lock(budget_mutex);
  auto& b = budget();
  if (!b || !b->adapts || b->requested <= 1) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - b->last < (b->first_reading ? kFirstInterval : kResampleInterval)) return;
  b->last = now;
  const int threads = threads_left_free(b->requested, b->load.cpu_count(), b->load.busy_cores());
  const bool confirmed = threads == b->proposed || b->first_reading;
  b->first_reading = false;
  b->proposed = threads;
  if (!confirmed || threads == b->applied) return;
  b->applied = threads;
  b->apply(threads);
}

}  // namespace tervit
