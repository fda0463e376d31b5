#include <catch2/catch.hpp>
#include <sys/resource.h>

#include <fstream>
#include <iterator>
#include <string>

#include "tervit/core/error.h"
#include "tervit/libtorch/process.h"
#include "test_helpers.h"

using namespace tervit;

TEST_CASE("LibTorch runs on OpenBLAS, not the reference BLAS", "[runtime]") {
  // tools/install_deps.sh selects OpenBLAS through update-alternatives; the reference BLAS makes
  // every matrix product 20-40x slower.
  torch::mm(torch::ones({8, 8}), torch::ones({8, 8}));  // make sure the BLAS is loaded
  const auto blas = loaded_blas_library();
  CAPTURE(blas);
  if (blas.empty()) {  // a LibTorch with its BLAS linked in (pip wheels and NVIDIA's images: MKL)
    CHECK_THAT(at::show_config(), Catch::Contains("BLAS_INFO=mkl") || Catch::Contains("BLAS_INFO=open"));
    return;
  }
  CHECK(blas.find("openblas") != std::string::npos);
  CHECK_FALSE(is_reference_blas(blas));
  CHECK(is_reference_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0"));
}

TEST_CASE("Devices and thread counts are validated", "[runtime]") {
  CHECK(resolve_device("cpu") == torch::Device(torch::kCPU));
  CHECK_THROWS_WITH(resolve_device("gpu"), Catch::Contains("gpu"));
  if (!torch::cuda::is_available()) CHECK_THROWS_WITH(resolve_device("cuda"), Catch::Contains("CUDA"));
  CHECK(resolve_device("auto") == (torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU)));
  const int before = torch::get_num_threads();
  CHECK(set_threads(1) == 1);
  CHECK(set_threads(0) == 1);
  set_threads(before);
  CHECK_THROWS_AS(set_threads(-1), Error);
}

TEST_CASE("Freed memory is kept for the next step, not faulted in again", "[runtime]") {
  const auto minor_faults = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
  };
#ifdef __SANITIZE_ADDRESS__
  testing::skip_test("AddressSanitizer's allocator replaces glibc's malloc, which keep_freed_memory configures");
  return;
#endif
  // A "step" writes six tensors of 24 to 44 MB and frees them: glibc maps each anew, 46080 fresh pages a
  // step, unless freed memory is kept. A step is measured after four, once the heap has grown to hold one.
  const auto faults_of_a_step = [&] {
    const auto step = [] {
      std::vector<torch::Tensor> activations;
      for (int64_t i = 0; i < 6; ++i) activations.push_back(torch::empty({(6 + i) << 20}).fill_(1.0f));
    };
    for (int warm_up = 0; warm_up < 4; ++warm_up) step();
    const auto before = minor_faults();
    step();
    return minor_faults() - before;
  };
  const auto without = faults_of_a_step();
  keep_freed_memory();
  const auto with = faults_of_a_step();
  CAPTURE(without, with);
  CHECK(with < 1000);
  // With transparent huge pages always on, fresh mappings fault in 2 MB at a time: too few to count.
  std::ifstream huge_pages("/sys/kernel/mm/transparent_hugepage/enabled");
  const std::string setting((std::istreambuf_iterator<char>(huge_pages)), std::istreambuf_iterator<char>());
  if (setting.find("[always]") == std::string::npos) CHECK(without > 30000);
}
