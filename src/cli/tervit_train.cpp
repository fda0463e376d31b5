// tervit-train: trains a model through a config's stages (TerViT: 8-bit, then ternary). Started by
// torchrun, tools/launch.sh or srun (their variables set), each process is one rank of a data-parallel run.
#include <spdlog/spdlog.h>

#include "tervit/libtorch/app.h"
#include "tervit/engine/run_config.h"
#include "tervit/core/error.h"
#include "tervit/engine/process_group.h"
#include "tervit/engine/rendezvous.h"
#include "tervit/engine/trainer.h"

int main(int argc, char** argv) {
  CLI::App app{"tervit-train: progressive (8-bit, then ternary) training of DeiT and Swin"};
  std::string config_path;
  std::vector<std::string> overrides;
  std::string output;
  std::string resume;
  tervit::ProcessOptions process;
  app.add_option("--config", config_path, "YAML run config (configs/*.yaml)")->required();
  app.add_option("--set", overrides, "override a config key: --set data.batch_size=128 (repeatable)");
  app.add_option("--output", output, "run folder (default: runs/<config name>; with --resume DIR: the run DIR belongs to)");
  app.add_option("--resume", resume, "'auto' (the run folder's newest complete checkpoint, if any) or a checkpoint folder");
  tervit::add_process_options(app, process);

  return tervit::run_app(app, argc, argv, [&] {
    auto config = tervit::engine::load_run_config(config_path, overrides);
    // The config's runtime section applies unless the command line set it.
    if (app.count("--threads") == 0) process.threads = config.runtime.threads;
    if (app.count("--device") == 0) process.device = config.runtime.device;
    if (app.count("--log-level") == 0) process.log_level = config.runtime.log_level;
    auto rendezvous = tervit::engine::rendezvous_from_environment();
    if (rendezvous && rendezvous->world_size == 1) rendezvous.reset();  // one process: no group at all
    // Rank 0 speaks for the run; the others report errors only (unless debugging).
    if (rendezvous && rendezvous->rank > 0 && process.log_level != "debug" && process.log_level != "trace") process.log_level = "error";

    tervit::engine::TrainerOptions options;
    options.resume = resume;
    if (!output.empty()) options.run_dir = output;
    else if (!resume.empty() && resume != "auto") options.run_dir = std::filesystem::path(resume).parent_path().parent_path();
    else options.run_dir = std::filesystem::path("runs") / std::filesystem::path(config_path).stem();
    if (std::filesystem::exists(options.run_dir) && !std::filesystem::is_directory(options.run_dir))
      throw tervit::Error("--output " + options.run_dir.string() + " is a file, not a folder");
    options.device = tervit::start_process("tervit-train", process);
    if (rendezvous) {
      spdlog::set_pattern("[%H:%M:%S.%e] [rank " + std::to_string(rendezvous->rank) + "] [%^%l%$] %v");
      options.device = tervit::engine::device_for_local_rank(options.device, *rendezvous);
      const std::chrono::duration<double> timeout(config.runtime.dist_timeout_s);
      spdlog::info("data parallel ({}): rank {} of {} on {}, meeting at {}:{}", rendezvous->launcher, rendezvous->rank,
                   rendezvous->world_size, options.device.str(), rendezvous->master_addr, rendezvous->master_port);
      options.group = std::make_shared<tervit::engine::ProcessGroup>(
          *rendezvous, options.device, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
    }
    spdlog::info("run folder {}", options.run_dir.string());
    tervit::engine::Trainer trainer(std::move(config), options);
    return trainer.run();
  });
}
