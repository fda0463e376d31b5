#pragma once
// What every tervit executable shares: the exit-code contract and the common runtime options.
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
#include <string>

namespace tervit {

// Exit codes: 0 success, 1 internal failure, 2 bad input (tervit::Error, CLI parse errors),
// 3 partial success (some inputs failed, the rest were processed).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitPartial = 3;

struct RuntimeOptions {
  std::string device = "auto";
  int threads = 0;
  std::string log_level = "info";
};

// Adds --device, --threads and --log-level to `app`.
void add_runtime_options(CLI::App& app, RuntimeOptions& options);

// Starts logging, sets threads, resolves the device and logs the runtime report.
torch::Device start_runtime(const std::string& program, const RuntimeOptions& options);

// Parses the command line and runs `body`, mapping exceptions to exit codes with one clear message.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace tervit
