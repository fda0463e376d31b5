#pragma once
// What a Trainer holds while it runs (private to the trainer's files), and its phases, each in a file
// named after it: prepare_run (the constructor's checks and start), begin_stage, train_batch and
// optimizer_step (train_step.cpp), log_step, end_epoch; checkpoint_writer.h writes the checkpoints.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "models/vision_model.h"
#include "tervit/core/folder_lock.h"
#include "tervit/data/loader.h"
#include "tervit/engine/adamw.h"
#include "tervit/engine/checkpoint.h"
#include "tervit/engine/gradient_reducer.h"
#include "tervit/engine/lr_schedule.h"
#include "tervit/engine/metrics_log.h"
#include "tervit/engine/mixed_precision.h"
#include "tervit/engine/model_ema.h"
#include "tervit/engine/progress.h"
#include "tervit/engine/run_config.h"
#include "tervit/engine/train_data.h"
#include "tervit/engine/trainer.h"
#include "tervit/engine/trainer_state.h"
#include "tervit/quant/diagnostics.h"

namespace tervit::engine {

struct TrainingRun {
  RunConfig config;
  TrainerOptions options;
  std::unique_ptr<FolderLock> run_folder_lock;  // rank 0's: one process writes a run folder at a time
  std::vector<std::filesystem::path> checkpoints_seen;  // the run folder's checkpoints when the run was prepared
  models::VisionModel model;
  models::VisionModel teacher;  // null without distillation
  TrainData data;
  std::optional<Checkpoint> resume_from;
  TrainerState position;
  LossScaler scaler{false};

  // Per stage.
  std::unique_ptr<AdamW> optimizer;
  std::vector<torch::Tensor> trained;  // every tensor the optimizer updates
  LrScheduleOptions schedule;
  std::unique_ptr<ModelEma> ema;
  quant::TernaryDiagnostics diagnostics;
  std::unique_ptr<MetricsLog> metrics;       // rank 0's only
  std::unique_ptr<GradientReducer> reducer;  // data parallel only

  TrainingRun(RunConfig c, TrainerOptions o) : config(std::move(c)), options(std::move(o)) {}
  std::filesystem::path checkpoints_dir() const { return options.run_dir / "checkpoints"; }
  ProcessGroup* group() const { return options.group.get(); }
  int64_t rank() const { return options.group ? options.group->rank() : 0; }
  int64_t world_size() const { return options.group ? options.group->world_size() : 1; }
  bool writes_run_folder() const { return rank() == 0; }
  int64_t accum_steps() const { return config.optimizer.accum_steps; }
  int64_t steps_per_epoch() const { return (data.train_loader->batches_per_epoch() + accum_steps() - 1) / accum_steps(); }
  int64_t global_batch() const { return config.data.batch_size * accum_steps() * world_size(); }
};

// The optimizer steps since the last step log line: their images and time (for img/s), and whether the
// current accumulation group skipped a non-finite loss.
struct StepInterval {
  int64_t images = 0;
  bool group_skipped = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

// The constructor's work: checks everything the run needs, builds the model and the teacher, and finds
// where the run starts (a checkpoint or model.weights). Writes nothing.
void prepare_run(TrainingRun& run);

// Sets up `stage`: initial weights, quantizers, AdamW groups (with the state the stage keeps), the lr
// schedule, EMA and diagnostics; restores them from the resume checkpoint when the run resumes inside it.
void begin_stage(TrainingRun& run, const StageConfig& stage, const std::optional<TensorMap>& carried_optimizer_state);

// Forward and backward of one batch (one micro-batch of an accumulation group); a non-finite loss is
// skipped within optimizer.max_nonfinite_skips, beyond it throws std::runtime_error. Returns whether the
// batch ends its accumulation group.
bool train_batch(TrainingRun& run, const StageConfig& stage, const data::Batch& batch, StepInterval& interval);

// The optimizer step closing an accumulation group (none when it skipped a non-finite loss), with the
// scheduled lr (returned).
double optimizer_step(TrainingRun& run, const StepInterval& interval);

// The progress display after every step, and a metrics line every logging.every_steps steps.
void log_step(TrainingRun& run, const StageConfig& stage, Progress& progress, StepInterval& interval, double lr);

// After an epoch: evaluation (and of the EMA weights), the epoch's metrics line, the step checkpoint of the
// next position and the stage's best. Returns whether a stop signal ends the run here.
bool end_epoch(TrainingRun& run, const StageConfig& stage);

// The stop signal (SIGINT/SIGTERM) when any rank received one, so that every rank stops after the same
// step; 0 when none did.
int agreed_stop_signal(ProcessGroup* group);

// Everything that must start equal on every rank: parameters, buffers and the quantizers' tensors.
std::vector<torch::Tensor> state_tensors(torch::nn::Module& model);

// Metrics hold plain numbers; rounding keeps the log readable without hiding run differences.
double round_to_tenths(double value);

// "int8 2/3": the stage and its current epoch, for logs and the progress display.
std::string epoch_label(const TrainingRun& run, const StageConfig& stage);

}  // namespace tervit::engine
