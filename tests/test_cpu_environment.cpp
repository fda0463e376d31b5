// The CPU libraries' load-time settings (OpenBLAS's kernels fit the CPU, the user's own setting wins, the
// programs re-execute themselves to apply them) and the thread budget that leaves other processes' cores
// alone.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "tervit/core/cpu_environment.h"
#include "tervit/libtorch/process.h"
#include "tervit/core/thread_budget.h"
#include "test_helpers.h"

using namespace tervit;
using Catch::Contains;

namespace {

std::function<const char*(const char*)> environment(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto found = values.find(name);
    return found == values.end() ? nullptr : found->second.c_str();
  };
}

std::vector<std::string> names(const std::vector<EnvironmentSetting>& settings) {
  std::vector<std::string> result;
  for (const auto& setting : settings) result.push_back(setting.name);
  return result;
}

constexpr tervit::CpuFeatures kAvx512{true, true};
constexpr tervit::CpuFeatures kAvx2{true, false};
constexpr tervit::CpuFeatures kSse{false, false};

// A tervit-eval run on one image, whose start-up report is what these tests read.
testing::Run eval_one_image(const testing::TempDir& dir, const std::string& shell_setup) {
  cv::imwrite((dir / "a.png").string(), cv::Mat(40, 40, CV_8UC3, cv::Scalar(30, 120, 200)));
  return testing::run(dir, "tervit-eval",
                      "--weights " + testing::timm_fixture("deit_mini.safetensors").string() + " --device cpu --threads 1 --images " +
                          (dir / "a.png").string(),
                      shell_setup);
}

}  // namespace

TEST_CASE("OpenBLAS's generic kernels on a CPU with AVX2 or AVX-512 are replaced by fitting ones", "[runtime]") {
  const auto unrelated = environment({{"OMP_NUM_THREADS", "2"}});
  auto settings = missing_cpu_settings(unrelated, "Prescott", kAvx512);
  REQUIRE(settings.size() == 1);
  CHECK(settings[0].name == "OPENBLAS_CORETYPE");
  CHECK(settings[0].value == "SkylakeX");
  CHECK_THAT(settings[0].reason, Contains("Prescott") && Contains("AVX-512"));
  for (const auto* generic : {"Prescott", "Core2", "Nehalem", "Sandybridge", "Atom", "Barcelona"}) {
    CAPTURE(generic);
    CHECK_FALSE(openblas_core_fits(generic, kAvx2));
    settings = missing_cpu_settings(unrelated, generic, kAvx2);
    REQUIRE(settings.size() == 1);
    CHECK(settings[0].value == "Haswell");
  }
  // Kernel sets with AVX2 or wider stay, whatever the letter case; a CPU without AVX2 keeps any.
  for (const auto* fitting : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SAPPHIRERAPIDS", "Excavator"}) {
    CAPTURE(fitting);
    CHECK(openblas_core_fits(fitting, kAvx512));
    CHECK(missing_cpu_settings(unrelated, fitting, kAvx512).empty());
  }
  CHECK(openblas_core_fits("Prescott", kSse));
  CHECK(missing_cpu_settings(unrelated, "Prescott", kSse).empty());
  CHECK(fitting_openblas_core(kSse).empty());
  // No OpenBLAS loaded (tervit-run, an MKL build): nothing to choose.
  CHECK(missing_cpu_settings(unrelated, "", kAvx512).empty());
}

TEST_CASE("The user's OPENBLAS_CORETYPE wins, even one below the CPU (the start-up log warns about it)", "[runtime]") {
  CHECK(missing_cpu_settings(environment({{"OPENBLAS_CORETYPE", "Prescott"}}), "Prescott", kAvx512).empty());
  // An empty variable is no choice.
  CHECK(names(missing_cpu_settings(environment({{"OPENBLAS_CORETYPE", ""}}), "Prescott", kAvx512)) ==
        std::vector<std::string>{"OPENBLAS_CORETYPE"});
}

TEST_CASE("The BLAS in use runs kernels that fit this CPU's vector instructions", "[runtime]") {
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));
  const auto core = openblas_core();
  if (core.empty()) {
    testing::skip_test("this LibTorch's BLAS is not OpenBLAS but picks its own kernels (" + at::get_mkl_version() + ")");
    return;
  }
  bool set_here = false;
  for (const auto& note : cpu_environment_notes()) set_here = set_here || note.find("OPENBLAS_CORETYPE") != std::string::npos;
  const char* user_choice = std::getenv("OPENBLAS_CORETYPE");
  if (user_choice != nullptr && *user_choice != '\0' && !set_here) {
    testing::skip_test(std::string("OPENBLAS_CORETYPE=") + user_choice + " comes from the environment, which decides the kernels");
    return;
  }
  const auto cpu = cpu_features();
  CAPTURE(core, cpu.avx2, cpu.avx512);
  CHECK(openblas_core_fits(core, cpu));
}

TEST_CASE("A program re-executes once with the settings it lacks, as the same process, and notes them", "[runtime][cli]") {
  testing::TempDir dir;
  const auto probe = testing::run(dir, "cpu_environment_probe", "TERVIT_PROBE_SETTING probed", "unset TERVIT_PROBE_SETTING; ");
  CHECK(probe.exit_code == 0);
  std::istringstream lines(probe.out);
  std::vector<std::string> runs, notes, markers;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("run ", 0) == 0) runs.push_back(line.substr(4));
    if (line.rfind("note ", 0) == 0) notes.push_back(line.substr(5));
    if (line.rfind("marker ", 0) == 0) markers.push_back(line.substr(7));
  }
  REQUIRE(runs.size() == 2);  // the start, and one re-execution: no loop
  const auto pid = runs[0].substr(0, runs[0].find(' '));
  CHECK(runs[0] == pid + " TERVIT_PROBE_SETTING=(unset)");
  CHECK(runs[1] == pid + " TERVIT_PROBE_SETTING=probed");  // exec keeps the process id
  CHECK(notes == std::vector<std::string>{"set TERVIT_PROBE_SETTING=probed: asked by the test"});
  CHECK(markers == std::vector<std::string>{"gone", "gone"});  // programs it starts decide for themselves
}

TEST_CASE("The start-up log names the BLAS's kernels", "[runtime][cli]") {
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));
  testing::TempDir dir;
  const auto run = eval_one_image(dir, "");
  CHECK(run.exit_code == 0);
  CHECK(testing::json_lines(run.out).size() == 1);
  const auto core = openblas_core();
  if (core.empty()) {
    testing::skip_test("this LibTorch's BLAS is not OpenBLAS");
    return;
  }
  CHECK_THAT(run.err, Contains("BLAS ") && Contains(", kernels " + core + " (") && Contains(" GFLOP/s sgemm 256, 1 thread)"));
}

TEST_CASE("The start-up log warns, with the remedy, when OpenBLAS is made to run kernels below the CPU", "[runtime][cli]") {
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));
  if (openblas_core().empty() || !cpu_features().avx2) {
    testing::skip_test("needs OpenBLAS and a CPU with AVX2");
    return;
  }
  testing::TempDir dir;
  const auto run = eval_one_image(dir, "export OPENBLAS_CORETYPE=Prescott; ");
  CHECK(run.exit_code == 0);
  CHECK_THAT(run.err, Contains("kernels Prescott") && Contains("OpenBLAS runs its Prescott kernels") &&
                          Contains("set it to " + fitting_openblas_core(cpu_features())));
}

TEST_CASE("Threads are limited to the cores other processes leave free", "[runtime]") {
  CHECK(threads_left_free(2, 2, 0.0) == 2);
  CHECK(threads_left_free(2, 2, 0.4) == 2);
  CHECK(threads_left_free(2, 2, 0.67) == 1);  // one spinning process beside 2 threads of ours: 2 cores / 3
  CHECK(threads_left_free(2, 2, 2.0) == 1);   // never below 1
  CHECK(threads_left_free(4, 64, 10.0) == 4);  // never above the request
  CHECK(threads_left_free(8, 8, 3.2) == 5);

  OtherProcessesLoad load;
  REQUIRE(load.cpu_count() >= 1);
  if (load.cpu_count() < 2 || load.cpu_count() > 8) {
    testing::skip_test("needs 2 to 8 CPUs to keep all but one busy, found " + std::to_string(load.cpu_count()));
    return;
  }
  std::vector<int> applied;
  start_thread_budget(2, [&](int count) { applied.push_back(count); });
  CHECK(applied == std::vector<int>{2});
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  adapt_threads();  // the first reading, applied alone, on whatever load the host has now
  const auto after_first_reading = applied;
  // Other processes spin on all CPUs but one while this one sleeps: at least one core busy, whatever else
  // runs beside the test.
  std::vector<pid_t> spinners;
  for (int i = 0; i + 1 < load.cpu_count(); ++i) {
    const pid_t pid = fork();
    if (pid == 0)
      for (volatile uint64_t spin = 0;; ++spin) {
      }
    spinners.push_back(pid);
  }
  load.busy_cores();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  adapt_threads();
  const auto after_one_reading = applied;  // a burst of one reading changes nothing
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  adapt_threads();
  const double busy = load.busy_cores();
  // A program started beside the busy cores: its first reading drops the thread at once.
  std::vector<int> started_beside;
  start_thread_budget(2, [&](int count) { started_beside.push_back(count); });
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  adapt_threads();
  for (const pid_t pid : spinners) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  CAPTURE(busy, after_first_reading);
  CHECK(busy > load.cpu_count() - 1.5);
  CHECK(after_one_reading == after_first_reading);
  CHECK(applied.back() == 1);
  CHECK(started_beside == std::vector<int>{2, 1});
  start_thread_budget(1, [](int) {});  // no budget of this test's left for others to adapt
}
