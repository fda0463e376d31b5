#pragma once
// What every LibTorch tervit executable shares: the exit-code contract and the process options (device,
// threads, log level).
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <functional>
#include <string>

#include "tervit/core/exit_codes.h"

namespace tervit {

struct ProcessOptions {
  std::string device = "auto";
  int threads = 0;
  std::string log_level = "info";
};

// Adds --device, --threads and --log-level to `app`.
void add_process_options(CLI::App& app, ProcessOptions& options);

// Starts logging, sets threads, resolves the device and logs the process report (process.h).
torch::Device start_process(const std::string& program, const ProcessOptions& options);

// Prepares the CPU libraries' environment (may re-execute the program: cpu_environment.h), parses the
// command line and runs `body`, mapping exceptions to exit codes with one clear message.
int run_app(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace tervit
