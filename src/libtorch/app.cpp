#include "tervit/libtorch/app.h"

#include <spdlog/spdlog.h>

#include "tervit/core/command_line.h"
#include "tervit/core/cpu_environment.h"
#include "tervit/core/error_report.h"
#include "tervit/core/thread_budget.h"
#include "tervit/libtorch/process.h"

namespace tervit {

void add_process_options(CLI::App& app, ProcessOptions& options) {
  app.add_option("--device", options.device, "cpu, cuda, cuda:N or auto")->capture_default_str();
  app.add_option("--threads", options.threads, "CPU threads for LibTorch (0: LibTorch's default)")
      ->capture_default_str()
      ->check(CLI::Range(0, kMaxThreads));
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")->capture_default_str();
}

torch::Device start_process(const std::string& program, const ProcessOptions& options) {
  init_logging(options.log_level);
  keep_freed_memory();
  set_threads(options.threads);
  const auto device = resolve_device(options.device);
  log_process_report(program, device);
  return device;
}

int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  prepare_cpu_environment(argv);
  init_logging();  // errors before start_process must reach stderr too
  if (const auto code = parse_command_line(app, argc, argv)) return *code;
  try {
    return body();
  } catch (...) {
    const auto report = report_current_exception();
    switch (report.kind) {
      case ErrorKind::kBadInput: spdlog::error("{}", report.message); break;
      case ErrorKind::kOutOfMemory: spdlog::critical("out of memory: use a smaller batch or model, or fewer data loader workers"); break;
      case ErrorKind::kInternal: spdlog::critical("internal error: {}", report.message); break;
    }
    return report.exit_code();
  }
}

}  // namespace tervit
