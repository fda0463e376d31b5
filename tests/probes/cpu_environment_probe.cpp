// A helper of test_cpu_environment.cpp: `cpu_environment_probe NAME VALUE` applies NAME=VALUE as the
// programs apply the settings their CPU libraries lack (re-executing), and prints what each run saw.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "tervit/core/cpu_environment.h"

int main(int argc, char** argv) {
  tervit::prepare_cpu_environment(argv);
  if (argc != 3) return 2;
  const char* value = std::getenv(argv[1]);
  std::printf("run pid=%d %s=%s\n", static_cast<int>(getpid()), argv[1], value ? value : "(unset)");
  for (const auto& note : tervit::cpu_environment_notes()) std::printf("note %s\n", note.c_str());
  std::printf("marker %s\n", std::getenv("TERVIT_CPU_ENVIRONMENT_PREPARED") ? "inherited" : "gone");
  std::fflush(stdout);
  if (tervit::cpu_environment_notes().empty()) tervit::apply_by_reexecuting({{argv[1], argv[2], "asked by the test"}}, argv);
  return 0;
}
