#include "tervit/engine/trainer.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "tervit/core/atomic_file.h"
#include "tervit/core/error.h"
#include "tervit/core/exit_codes.h"
#include "tervit/core/thread_budget.h"
#include "tervit/engine/optimizer_state.h"
#include "tervit/engine/stop_signal.h"
#include "tervit/libtorch/process.h"
#include "src/engine/checkpoint_writer.h"
#include "src/engine/training_run.h"

namespace tervit::engine {

namespace {

// Rank 0's run folder, locked first: a second tervit-train on it (which may have read it, but has written
// nothing yet) stops here instead of deleting this run's temporary checkpoints and interleaving its
// metrics. Then the resolved config, the log file and the metrics (cut back to the checkpoint's length
// when the run resumes).
void open_run_folder(TrainingRun& run) {
  if (!run.writes_run_folder()) return;
  run.run_folder_lock = std::make_unique<FolderLock>(run.options.run_dir);
  // The start was chosen from what the folder held then; another run may have written since and finished.
  if (checkpoint_folders(run.checkpoints_dir()) != run.checkpoints_seen)
    throw Error("run folder " + run.options.run_dir.string() +
                " changed while this run was starting (another tervit-train wrote checkpoints); start it again");
  std::filesystem::create_directories(run.checkpoints_dir());
  write_file_atomically(run.options.run_dir / "config.yaml", run.config.tree.dump());
  add_log_file(run.options.run_dir / "train.log");
  run.metrics = std::make_unique<MetricsLog>(run.options.run_dir / "metrics.jsonl", run.resume_from ? run.position.metrics_bytes : 0);
}

enum class EpochEnd { kCompleted, kStopped };

// The batches of the current epoch, from the position's batch on. Stops early, with a checkpoint, on a
// signal (SIGINT/SIGTERM); writes step checkpoints every checkpoint.every_steps steps.
EpochEnd train_epoch(TrainingRun& run, const StageConfig& stage, int64_t data_epoch, Progress& progress) {
  auto& loader = *run.data.train_loader;
  auto& p = run.position;
  const int64_t batches = loader.batches_per_epoch();
  const auto checkpoint_every = run.config.checkpoint.every_steps;
  loader.start_epoch(data_epoch + p.epoch, p.batch);
  run.model->train();
  StepInterval interval;
  while (auto batch = loader.next()) {
    adapt_threads();
    if (!train_batch(run, stage, *batch, interval)) continue;
    const double lr = optimizer_step(run, interval);
    log_step(run, stage, progress, interval, lr);
    // At the epoch's last batch the epoch end checkpoints and stops.
    if (const int signal = agreed_stop_signal(run.group()); signal != 0 && p.batch < batches) {
      progress.finish();
      const auto folder = save_step_checkpoint(run, stage, p);
      if (!folder)
        throw std::runtime_error("signal received, but the checkpoint of step " + std::to_string(p.global_step) + " could not be written");
      spdlog::warn("signal {} received: stopped after step {}, checkpoint {} written; continue with --resume auto", signal,
                   p.global_step, folder->string());
      return EpochEnd::kStopped;
    }
    if (checkpoint_every > 0 && p.global_step % checkpoint_every == 0 && p.batch < batches) save_step_checkpoint(run, stage, p);
  }
  progress.finish();
  return EpochEnd::kCompleted;
}

}  // namespace

Trainer::Trainer(RunConfig config, TrainerOptions options)
    : run_(std::make_unique<TrainingRun>(std::move(config), std::move(options))) {
  prepare_run(*run_);
}

Trainer::~Trainer() = default;

int Trainer::run() {
  auto& run = *run_;
  auto& p = run.position;
  const auto& stages = run.config.stages;
  open_run_folder(run);
  install_stop_handlers();
  Progress progress(run.config.logging.progress, run.config.logging.every_steps);
  if (run.resume_from) spdlog::info("resuming at stage {} epoch {} batch {} (step {})", p.stage, p.epoch, p.batch, p.global_step);

  int64_t data_epoch = 0;  // epochs of all stages so far: each has its own sample order
  for (int64_t i = 0; i < p.stage && i < static_cast<int64_t>(stages.size()); ++i) data_epoch += stages[i].epochs;
  std::optional<TensorMap> carried_optimizer_state;  // a stage that keeps the optimizer state gets it from here

  for (; p.stage < static_cast<int64_t>(stages.size()); ++p.stage) {
    const auto& stage = stages[p.stage];
    begin_stage(run, stage, carried_optimizer_state);
    for (; p.epoch < stage.epochs; ++p.epoch) {
      if (train_epoch(run, stage, data_epoch, progress) == EpochEnd::kStopped) return kExitOk;
      if (end_epoch(run, stage)) return kExitOk;
    }
    data_epoch += stage.epochs;
    const auto next = static_cast<size_t>(p.stage) + 1;
    if (next < stages.size() && !stages[next].reset_optimizer) carried_optimizer_state = adamw_state(*run.optimizer);
    p.epoch = 0;
    p.stage_step = 0;
    p.best_top1 = -1;
  }
  spdlog::info("training done: {} steps; checkpoints in {}", p.global_step, run.checkpoints_dir().string());
  return kExitOk;
}

}  // namespace tervit::engine
