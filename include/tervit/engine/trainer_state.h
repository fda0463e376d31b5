#pragma once
// Where a training run stands, as a checkpoint records it: the next batch to train (stage, epoch,
// batch within the epoch), step counters, the stage's best accuracy, and how much of the metrics log
// belongs to the run up to this point. The JSON form is read back strictly: every field present, of
// its type and in range.
#include <cstdint>
#include <string>

namespace tervit::engine {

struct TrainerState {
  int64_t stage = 0;        // index into the config's stages
  int64_t epoch = 0;        // within the stage
  int64_t batch = 0;        // next batch of the epoch
  int64_t stage_step = 0;   // optimizer steps taken in the stage (the lr schedule's position)
  int64_t global_step = 0;  // optimizer steps taken in the run
  double best_top1 = -1;    // best val top-1 of the stage so far; -1 before the first evaluation
  int64_t nonfinite_skips = 0;
  int64_t metrics_bytes = 0;  // length of metrics.jsonl when the checkpoint was written
  double loss_scale = 1.0;    // fp16 dynamic loss scale
  // Running loss sums of the epoch and of the current logging interval, so that a resumed run logs
  // the same averages as an uninterrupted one.
  double epoch_loss_sum = 0;
  int64_t epoch_loss_count = 0;
  double interval_loss_sum = 0;
  int64_t interval_loss_count = 0;
  // Data-parallel processes that trained the run: `batch` counts each one's batches. Checkpoints from
  // before data-parallel training have no such field and read as 1.
  int64_t world_size = 1;
};

std::string trainer_state_json(const TrainerState& state);

// Throws tervit::Error naming `source` and the field for malformed text.
TrainerState parse_trainer_state(const std::string& text, const std::string& source);

}  // namespace tervit::engine
