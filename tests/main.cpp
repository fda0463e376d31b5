// The suite runs in the environment the programs prepare for themselves (fitting BLAS kernels, OpenMP
// threads that sleep when idle), which re-executes each test process once.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "tervit/core/cpu_environment.h"

int main(int argc, char** argv) {
  tervit::prepare_cpu_environment(argv);
  return Catch::Session().run(argc, argv);
}
