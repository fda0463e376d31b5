#pragma once
// [0, count) in chunks of `grain`, spread over the OpenMP threads in contiguous runs (as at::parallel_for
// splits a range, which the LibTorch-free code cannot call). One chunk, one thread, or a call from inside a
// parallel region runs on the calling thread, as does every loop without OpenMP (the fuzz build).
#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tervit::kernels {

// The threads a parallel_chunks call spreads over: OpenMP's current setting, 1 inside a parallel region
// or without OpenMP.
inline int64_t worker_count() {
#ifdef _OPENMP
  return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
  return 1;
#endif
}

template <typename Body>
void parallel_chunks(int64_t count, int64_t grain, const Body& body) {
  const int64_t chunks = (count + grain - 1) / grain;
  // Serially without entering OpenMP at all: even a one-thread parallel region costs about a microsecond,
  // a fifth of a small layer's products.
  if (chunks <= 1 || worker_count() <= 1) {
    for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(count, (c + 1) * grain));
    return;
  }
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(count, (c + 1) * grain));
}

}  // namespace tervit::kernels
