#pragma once
// The settings that the CPU libraries read once, while they are being loaded, before main() runs: here
// OpenBLAS's choice of kernels (OPENBLAS_CORETYPE). setenv() in main() is too late, so a program whose
// environment lacks a setting re-executes itself once with it set (some 0.4 s for a LibTorch program,
// only where a setting is missing). LibTorch-free: tervit-run prepares its process too.
// OpenMP's waiting is left as libgomp sets it: GOMP_SPINCOUNT=1000 (sleep after ~10 µs instead of ~3 ms)
// cost tervit-run's batch-1 deit_small 10-15% on 2 idle cores, and the thread budget (thread_budget.h)
// is what keeps a busy core from slowing the programs down.
#include <functional>
#include <string>
#include <vector>

namespace tervit {

struct CpuFeatures {
  bool avx2 = false;    // with FMA: what OpenBLAS's Haswell kernels need
  bool avx512 = false;  // F, CD, BW, DQ and VL, usable by the OS: what its SkylakeX kernels need
};

CpuFeatures cpu_features();

// The kernel set the loaded OpenBLAS runs ("Haswell", "SkylakeX", "Prescott", ...), as
// openblas_get_corename() names it; "" when no OpenBLAS is loaded (tervit-run, MKL builds).
std::string openblas_core();

// Whether OpenBLAS's `core` uses the vector width that `cpu` offers: on a CPU with AVX2 the kernel sets
// of Haswell and later, on a CPU without it any. Debian's OpenBLAS 0.3.21 falls back to Prescott (SSE3)
// on CPUs newer than it knows, 3-4x slower there.
bool openblas_core_fits(const std::string& core, const CpuFeatures& cpu);

// The kernel set to ask for on `cpu`: SkylakeX with AVX-512, Haswell with AVX2, "" otherwise.
std::string fitting_openblas_core(const CpuFeatures& cpu);

struct EnvironmentSetting {
  std::string name;
  std::string value;
  std::string reason;
};

// The settings this process lacks, given its environment (`getenv`), the OpenBLAS kernels it runs and its
// CPU. What the user set wins (OPENBLAS_CORETYPE; the start-up log warns where it does not fit the CPU).
std::vector<EnvironmentSetting> missing_cpu_settings(const std::function<const char*(const char*)>& getenv,
                                                     const std::string& blas_core, const CpuFeatures& cpu);

// The first call of main(): where settings are missing, applies them (below). Returns when nothing is
// missing, in the re-executed program, or when re-executing failed (the notes say so).
void prepare_cpu_environment(char** argv);

// Sets `settings` and re-executes the program (the same process id, arguments, and environment
// besides); the re-executed program's prepare_cpu_environment records them as notes and does not
// re-execute again. Returns only if re-executing failed, with the settings undone and a note saying so.
void apply_by_reexecuting(const std::vector<EnvironmentSetting>& settings, char** argv);

// What prepare_cpu_environment set and why, or why it could not: one line each, for the start-up log.
const std::vector<std::string>& cpu_environment_notes();

}  // namespace tervit
