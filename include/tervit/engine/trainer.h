#pragma once
// tervit-train's engine: runs a config's stages (fp, int8, ternary, ...) in order, each with its own
// quantizer, AdamW groups, warmup + cosine schedule and evaluation after every epoch; writes
// checkpoints atomically, resumes from them bit-exactly on CPU, and stops cleanly on SIGINT/SIGTERM.
//
// Data parallel (TrainerOptions::group): the same start on every rank (rank 0's state broadcast), each
// rank its share of the samples, gradients averaged in buckets during backward, losses and evaluation
// reduced over the ranks, every decision (skip a step, stop) taken by all ranks at the same step.
//
// Run folder: config.yaml (resolved), train.log, metrics.jsonl, checkpoints/step-NNNNNNNNN (the last
// checkpoint.keep_last), checkpoints/best-<stage> (the best val top-1 of each stage).
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>

#include "tervit/engine/process_group.h"
#include "tervit/engine/run_config.h"

namespace tervit::engine {

struct TrainerOptions {
  std::filesystem::path run_dir;
  std::string resume;  // "" (a new run), "auto" (the run folder's newest checkpoint, if any), or a checkpoint folder
  torch::Device device = torch::kCPU;
  // Data parallel: each rank trains on its share of every batch and the gradients are averaged; only
  // rank 0 writes the run folder. Null: a single process.
  std::shared_ptr<ProcessGroup> group;
};

struct TrainingRun;  // what a running Trainer holds (src/engine/training_run.h)

class Trainer {
 public:
  // Checks everything a run needs (data sets, class count, weights, teacher, the resume checkpoint and
  // its config, the run folder) and builds the model; writes nothing. Throws tervit::Error for bad input.
  Trainer(RunConfig config, TrainerOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the end of the last stage, or until SIGINT/SIGTERM (then a checkpoint is written first).
  // Returns the process exit code. A non-finite loss beyond optimizer.max_nonfinite_skips or a failed
  // checkpoint write throws std::runtime_error; earlier checkpoints stay intact.
  int run();

 private:
  std::unique_ptr<TrainingRun> run_;
};

}  // namespace tervit::engine
