#include "tervit/core/cpu_environment.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tervit/core/strings.h"

namespace tervit {
namespace {

// Set for the re-executed program only: the notes to log, one per line. Its presence stops a second exec.
constexpr const char* kPreparedVariable = "TERVIT_CPU_ENVIRONMENT_PREPARED";

std::vector<std::string>& notes() {
  static std::vector<std::string> lines;
  return lines;
}

bool is_set(const std::function<const char*(const char*)>& getenv, const char* name) {
  const char* value = getenv(name);
  return value != nullptr && *value != '\0';
}

}  // namespace

CpuFeatures cpu_features() {
  CpuFeatures cpu;
#if defined(__x86_64__) || defined(__i386__)
  // GCC's checks include the OS's support of the vector state (XCR0), not only CPUID's bits.
  cpu.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  cpu.avx512 = cpu.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#endif
  return cpu;
}

std::string openblas_core() {
  // Looked up rather than linked: tervit-run has no BLAS, and LibTorch may carry another one (MKL).
  using CoreName = char* (*)();
  const auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = core_name ? core_name() : nullptr;
  return name ? name : "";
}

bool openblas_core_fits(const std::string& core, const CpuFeatures& cpu) {
  if (!cpu.avx2) return true;
  static const std::array<const char*, 6> avx2_cores = {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"};
  const auto name = lowercase(core);
  return std::find(avx2_cores.begin(), avx2_cores.end(), name) != avx2_cores.end();
}

std::string fitting_openblas_core(const CpuFeatures& cpu) {
  if (cpu.avx512) return "SkylakeX";
  return cpu.avx2 ? "Haswell" : "";
}

std::vector<EnvironmentSetting> missing_cpu_settings(const std::function<const char*(const char*)>& getenv,
                                                     const std::string& blas_core, const CpuFeatures& cpu) {
  std::vector<EnvironmentSetting> settings;
  if (!blas_core.empty() && !is_set(getenv, "OPENBLAS_CORETYPE") && !openblas_core_fits(blas_core, cpu))
    settings.push_back({"OPENBLAS_CORETYPE", fitting_openblas_core(cpu),
                        "OpenBLAS chose its " + blas_core + " kernels, which leave this CPU's " + (cpu.avx512 ? "AVX-512" : "AVX2") +
                            " unused"});
  return settings;
}

void prepare_cpu_environment(char** argv) {
  if (const char* prepared = std::getenv(kPreparedVariable)) {
    std::istringstream lines(prepared);
    for (std::string line; std::getline(lines, line);) notes().push_back(line);
    unsetenv(kPreparedVariable);  // programs this one starts decide for themselves
    return;
  }
  const auto settings = missing_cpu_settings(std::getenv, openblas_core(), cpu_features());
  if (!settings.empty()) apply_by_reexecuting(settings, argv);
}

void apply_by_reexecuting(const std::vector<EnvironmentSetting>& settings, char** argv) {
  std::string prepared;
  for (const auto& setting : settings) {
    setenv(setting.name.c_str(), setting.value.c_str(), 1);
    prepared += "set " + setting.name + "=" + setting.value + ": " + setting.reason + "\n";
  }
  setenv(kPreparedVariable, prepared.c_str(), 1);
  // The program's own file, also where argv[0] was found on PATH or is relative to another folder.
  std::array<char, PATH_MAX> self{};
  const auto length = readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (length > 0) execv(self.data(), argv);
  const int error = errno;
  unsetenv(kPreparedVariable);
  for (const auto& setting : settings) unsetenv(setting.name.c_str());
  notes().push_back("could not re-execute the program to set " + settings.front().name + " (" + std::strerror(error) +
                    "): running as started");
}

const std::vector<std::string>& cpu_environment_notes() { return notes(); }

}  // namespace tervit
