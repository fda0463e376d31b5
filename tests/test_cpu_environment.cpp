// The CPU libraries' load-time settings: OpenBLAS's kernels fit the CPU, OpenMP's idle threads sleep soon,
// the user's own settings win, and the programs re-execute themselves to apply them; and the thread budget
// that leaves other processes' cores alone.
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

#include <opencv2/imgcodecs.hpp>

#include "tervit/core/cpu_environment.h"
#include "tervit/core/runtime.h"
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
  const auto openmp_set = environment({{"GOMP_SPINCOUNT", "5"}});
  auto settings = missing_cpu_settings(openmp_set, "Prescott", kAvx512);
  REQUIRE(settings.size() == 1);
  CHECK(settings[0].name == "OPENBLAS_CORETYPE");
  CHECK(settings[0].value == "SkylakeX");
  CHECK_THAT(settings[0].reason, Contains("Prescott") && Contains("AVX-512"));
  for (const auto* generic : {"Prescott", "Core2", "Nehalem", "Sandybridge", "Atom", "Barcelona"}) {
    CAPTURE(generic);
    CHECK_FALSE(openblas_core_fits(generic, kAvx2));
    settings = missing_cpu_settings(openmp_set, generic, kAvx2);
    REQUIRE(settings.size() == 1);
    CHECK(settings[0].value == "Haswell");
  }
  // Kernel sets with AVX2 or wider stay, whatever the letter case; a CPU without AVX2 keeps any.
  for (const auto* fitting : {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SAPPHIRERAPIDS", "Excavator"}) {
    CAPTURE(fitting);
    CHECK(openblas_core_fits(fitting, kAvx512));
    CHECK(missing_cpu_settings(openmp_set, fitting, kAvx512).empty());
  }
  CHECK(openblas_core_fits("Prescott", kSse));
  CHECK(missing_cpu_settings(openmp_set, "Prescott", kSse).empty());
  CHECK(fitting_openblas_core(kSse).empty());
  // No OpenBLAS loaded (tervit-run, an MKL build): nothing to choose.
  CHECK(missing_cpu_settings(openmp_set, "", kAvx512).empty());
}

TEST_CASE("OpenMP's idle threads are set to sleep soon unless the user chose how they wait", "[runtime]") {
  const auto settings = missing_cpu_settings(environment({}), "Haswell", kAvx2);
  REQUIRE(names(settings) == std::vector<std::string>{"GOMP_SPINCOUNT"});
  CHECK(settings[0].value == kOpenMpSpinCount);
  CHECK(missing_cpu_settings(environment({{"OMP_WAIT_POLICY", "active"}}), "Haswell", kAvx2).empty());
  CHECK(missing_cpu_settings(environment({{"GOMP_SPINCOUNT", "infinite"}}), "Haswell", kAvx2).empty());
  // An empty variable is no choice.
  CHECK(names(missing_cpu_settings(environment({{"OMP_WAIT_POLICY", ""}}), "Haswell", kAvx2)) ==
        std::vector<std::string>{"GOMP_SPINCOUNT"});
  // The user's OPENBLAS_CORETYPE wins too, even a generic one (the start-up log warns about it).
  CHECK(names(missing_cpu_settings(environment({{"OPENBLAS_CORETYPE", "Prescott"}}), "Prescott", kAvx512)) ==
        std::vector<std::string>{"GOMP_SPINCOUNT"});
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

TEST_CASE("The programs re-execute once to apply the settings, name them in the log, and keep the user's", "[runtime][cli]") {
  // ctest gives the suite the same setting (CMakeLists.txt), so that its processes need not re-execute.
  if (const char* suite = std::getenv("GOMP_SPINCOUNT")) CHECK(std::string(suite) == kOpenMpSpinCount);
  testing::TempDir dir;
  const auto fresh = eval_one_image(dir, "unset GOMP_SPINCOUNT OMP_WAIT_POLICY; ");
  CHECK(fresh.exit_code == 0);
  CHECK_THAT(fresh.err, Contains(std::string("set GOMP_SPINCOUNT=") + kOpenMpSpinCount));
  CHECK(testing::json_lines(fresh.out).size() == 1);
  const auto core = openblas_core();
  if (!core.empty()) CHECK_THAT(fresh.err, Contains(", kernels "));

  const auto chosen = eval_one_image(dir, "export OMP_WAIT_POLICY=passive; ");
  CHECK(chosen.exit_code == 0);
  CHECK_THAT(chosen.err, !Contains("GOMP_SPINCOUNT"));

  const auto runtime = testing::run(dir, "tervit-run", "--help", "unset GOMP_SPINCOUNT OMP_WAIT_POLICY; ");
  CHECK(runtime.exit_code == 0);
  CHECK_THAT(runtime.err, Contains("tervit-run: set GOMP_SPINCOUNT="));
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
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  const double busy = load.busy_cores();
  adapt_threads();
  for (const pid_t pid : spinners) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  CAPTURE(busy);
  CHECK(busy > load.cpu_count() - 1.5);
  CHECK(applied == std::vector<int>{2, 1});
  start_thread_budget(1, [](int) {});  // no budget of this test's left for others to adapt
}
