#pragma once
// The LibTorch process: device selection, thread count, which BLAS LibTorch really uses, and
// the start-up report every executable logs.
#include <torch/torch.h>

#include <filesystem>
#include <string>

namespace tervit {

// Makes freed memory stay in the process for the next allocation. glibc serves large blocks (over 128 KB
// to 32 MB) with fresh mappings and trims its heap's free top, so each training step's activations would
// come back as new pages that the kernel faults in and zero-fills: about 0.6 GB a step for deit_tiny at
// batch 32, some 5% of the step. Resident memory then stays at its peak. No effect off glibc.
void keep_freed_memory();

// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available); CUDA without a GPU is an error.
torch::Device resolve_device(const std::string& spec);

// Sets LibTorch's intra-op threads (OpenMP); 0 keeps the current setting. Returns the count in use. That
// count is the most the thread budget (thread_budget.h) uses while other processes hold cores.
int set_threads(int threads);

// Path of the BLAS shared library mapped into this process (resolved through update-alternatives
// links), or "" when none is mapped (a BLAS linked statically, e.g. MKL in pip LibTorch). cuBLAS is not
// a CPU BLAS and is skipped.
std::string loaded_blas_library();

// Debian's generic reference BLAS (libblas3), 20-40x slower than OpenBLAS.
bool is_reference_blas(const std::string& library_path);

// Single-precision matrix multiply throughput: the fastest of 10 products of 256x256 (milliseconds).
double measure_matmul_gflops(const torch::Device& device);

// Logs (spdlog, stderr) the LibTorch version, device, threads, what the CPU environment was given, and the
// BLAS with its kernels and measured speed (on one thread); warns, with the remedy, on a slow BLAS or
// kernels below the CPU.
void log_process_report(const std::string& program, const torch::Device& device);

// Console logging to stderr (stdout stays free for results); level as spdlog names it ("info", ...).
// Safe to call again to change the level.
void init_logging(const std::string& level = "info");

// Also writes every log message to `path` (appending), e.g. the run folder's train.log.
void add_log_file(const std::filesystem::path& path);

}  // namespace tervit
