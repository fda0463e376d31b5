// The suite runs in the environment the programs prepare for themselves (fitting BLAS kernels), which
// re-executes a test process once on a CPU whose OpenBLAS kernels do not fit.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tervit/core/cpu_environment.h"

int main(int argc, char** argv) {
  tervit::prepare_cpu_environment(argv);
  return Catch::Session().run(argc, argv);
}
