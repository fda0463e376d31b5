#pragma once
// The settings that the CPU libraries read once, while they are being loaded, before main() runs:
// OpenBLAS's choice of kernels (OPENBLAS_CORETYPE) and how long OpenMP's idle threads spin before they
// sleep (GOMP_SPINCOUNT). setenv() in main() is too late for both, so a program whose environment lacks a
// setting re-executes itself once with it set. LibTorch-free: tervit-run prepares its process too.
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

// OpenMP threads spin this many rounds (libgomp counts some 100 a microsecond) before they sleep, where
// libgomp's default spins 300,000. A spinning thread that shares its core with another process holds the
// core until the scheduler takes it away, and is then late for the next parallel loop: with one core busy,
// tervit-run's deit_small on 2 threads fell from 23.4 images/s (1 thread) to 10.5-12.5, and the deit_tiny
// training step took 4.1-4.3 s instead of 2.9. Sleeping at once (0) cost 15-20% of tervit-run's speed on
// an idle machine, where 1000 kept it.
constexpr const char* kOpenMpSpinCount = "1000";

struct EnvironmentSetting {
  std::string name;
  std::string value;
  std::string reason;
};

// The settings this process lacks, given its environment (`getenv`), the OpenBLAS kernels it runs and its
// CPU. Whatever the user set wins: OPENBLAS_CORETYPE, and OMP_WAIT_POLICY or GOMP_SPINCOUNT.
std::vector<EnvironmentSetting> missing_cpu_settings(const std::function<const char*(const char*)>& getenv,
                                                     const std::string& blas_core, const CpuFeatures& cpu);

// The first call of main(): where settings are missing, sets them and re-executes the program (the same
// process id, arguments and environment besides), once. Returns when nothing is missing, in the
// re-executed program, or when re-executing failed (the notes say so).
void prepare_cpu_environment(char** argv);

// What prepare_cpu_environment set and why, or why it could not: one line each, for the start-up log.
const std::vector<std::string>& cpu_environment_notes();

}  // namespace tervit
