#include "tervit/libtorch/process.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "tervit/core/cpu_environment.h"
#include "tervit/core/error.h"
#include "tervit/core/thread_budget.h"

namespace tervit {

void keep_freed_memory() {
#ifdef __GLIBC__
  mallopt(M_MMAP_MAX, 0);         // every block from the heap
  mallopt(M_TRIM_THRESHOLD, -1);  // and the heap never handed back
#endif
}

torch::Device resolve_device(const std::string& spec) {
  if (spec == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(spec);
  } catch (const c10::Error&) {
    throw Error("unknown device '" + spec + "' (expected cpu, cuda, cuda:N or auto)");
  }
  if (device.is_cuda() && !torch::cuda::is_available())
    throw Error("device '" + spec + "' requested but this LibTorch sees no CUDA device");
  return device;
}

int set_threads(int threads) {
  if (threads < 0) throw Error("threads must be >= 0 (0 keeps LibTorch's default), got " + std::to_string(threads));
  if (threads > 0) torch::set_num_threads(threads);
  const int requested = torch::get_num_threads();
  start_thread_budget(requested, [requested](int count) {
    if (count != torch::get_num_threads())
      spdlog::info("threads: {} of {}{}", count, requested, count < requested ? ", other processes hold the other cores" : "");
    torch::set_num_threads(count);
  });
  return requested;
}

std::string loaded_blas_library() {
  // The kernel lists mapped files by their real path, so the alternatives symlink is already resolved.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const auto path = line.substr(slash);
    const auto file = path.substr(path.rfind('/') + 1);
    if (file.find("cublas") != std::string::npos) continue;  // the GPU's, in CUDA builds
    if (file.find("blas") != std::string::npos || file.find("mkl_core") != std::string::npos) return path;
  }
  return "";
}

bool is_reference_blas(const std::string& library_path) {
  return library_path.find("/blas/libblas") != std::string::npos;
}

double measure_matmul_gflops(const torch::Device& device) {
  torch::NoGradGuard no_grad;
  constexpr int64_t n = 256;
  const auto a = torch::randn({n, n}, device), b = torch::randn({n, n}, device);
  auto c = torch::mm(a, b);  // warm-up
  (void)c.sum().item<float>();
  // The fastest of several products: a product takes a fraction of a millisecond, so one interruption by
  // the OS (or a thread still waking up) halves an average.
  double fastest = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 10; ++i) {
    const auto start = std::chrono::steady_clock::now();
    c = torch::mm(a, b);
    (void)c.sum().item<float>();  // waits for asynchronous devices
    fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 2.0 * n * n * n / fastest / 1e9;
}

namespace {

double minimum_expected_gflops(const CpuFeatures& cpu) {
  // sgemm 256 on one thread, with room for a busy machine: fitting AVX2 and AVX-512 kernels gave 80-95 on
  // a 2-core EPYC, OpenBLAS's Prescott (SSE3) kernels 34, the reference BLAS about 2.
  return cpu.avx2 ? 20.0 : 5.0;
}

}  // namespace

void log_process_report(const std::string& program, const torch::Device& device) {
  spdlog::info("{}: LibTorch {}, device {}, {} threads", program, TORCH_VERSION, device.str(), torch::get_num_threads());
  for (const auto& note : cpu_environment_notes()) spdlog::info("{}", note);
  if (!device.is_cpu()) return;
  const auto blas = loaded_blas_library();
  const auto core = openblas_core();
  const auto cpu = cpu_features();
  // On one thread: the kernels' speed is what it tells, and on 2 threads beside a busy core the products
  // waited for the thread that shared it (128 ms of tervit-eval's start against 8).
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  const double gflops = measure_matmul_gflops(device);
  torch::set_num_threads(threads);
  spdlog::info("BLAS {}{} ({:.1f} GFLOP/s sgemm 256, 1 thread)", blas.empty() ? "linked statically" : blas,
               core.empty() ? "" : ", kernels " + core, gflops);
  // The library's identity decides first: the measurement is noisy on a loaded machine.
  const double expected = minimum_expected_gflops(cpu);
  if (is_reference_blas(blas))
    spdlog::warn("the BLAS in use is the reference BLAS, 20-40x slower: run tools/install_deps.sh to select OpenBLAS");
  else if (!core.empty() && !openblas_core_fits(core, cpu))
    spdlog::warn("OpenBLAS runs its {} kernels, which leave this CPU's {} unused (matrix products several times slower): "
                 "unset OPENBLAS_CORETYPE, or set it to {}",
                 core, cpu.avx512 ? "AVX-512" : "AVX2", fitting_openblas_core(cpu));
  else if (gflops < expected)
    spdlog::warn("the BLAS measured {:.1f} GFLOP/s where this CPU's vector instructions should give at least {:.0f} on one thread: "
                 "other processes may hold the cores (see uptime), or the BLAS runs generic kernels; tools/install_deps.sh "
                 "selects OpenBLAS",
                 gflops, expected);
}

void init_logging(const std::string& level) {
  if (!spdlog::get("tervit")) spdlog::set_default_logger(spdlog::stderr_color_mt("tervit"));
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw Error("unknown log level '" + level + "' (trace, debug, info, warn, error, off)");
  spdlog::set_level(parsed);
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
}

void add_log_file(const std::filesystem::path& path) {
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path.string());
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
    spdlog::default_logger()->sinks().push_back(std::move(sink));
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(path.string() + ": cannot open the log file: " + e.what());
  }
}

}  // namespace tervit
