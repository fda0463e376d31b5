#pragma once
// A training checkpoint is a folder:
//   model.safetensors       the latent weights with timm's names (loads in timm as it is); metadata holds
//                           the architecture ("family", "config") and the stage's quantizer ("quant")
//   quantizers.safetensors  learnable quantizer tensors (α, LSQ steps) by layer
//   optimizer.safetensors   AdamW moments and steps (optimizer_state.h)
//   ema.safetensors         the EMA weights, when EMA is on
//   diagnostics.safetensors the ternary codes of the last flip-rate measurement
//   trainer_state.json      where the run stands (trainer_state.h)
//   config.yaml             the resolved config of the run
// It is written into a hidden temporary folder beside its final place, every file fsynced, then renamed
// into place, so a folder with the final name is always complete; a kill leaves at most a hidden
// temporary folder, which resume ignores and the next write removes.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tervit/libtorch/safetensors.h"
#include "tervit/engine/trainer_state.h"

namespace tervit::engine {

struct Checkpoint {
  TensorMap model;
  std::map<std::string, std::string> model_metadata;
  TensorMap quantizers;
  TensorMap optimizer;
  TensorMap ema;  // empty when EMA is off
  TensorMap diagnostics;
  TrainerState state;
  std::string config_yaml;
};

// Writes `checkpoint` as `folder` (which must not exist yet). Throws tervit::Error naming the folder
// when anything fails; then no folder of that name exists and earlier checkpoints are untouched.
void write_checkpoint(const std::filesystem::path& folder, const Checkpoint& checkpoint);

// Replaces `folder` (e.g. the best checkpoint of a stage) by a new one, the old one removed only after
// the new one is in place.
void replace_checkpoint(const std::filesystem::path& folder, const Checkpoint& checkpoint);

// Reads and validates every part. Throws tervit::Error naming the folder and the part.
Checkpoint read_checkpoint(const std::filesystem::path& folder);

// "step-000001234": checkpoints of a run sort by name in step order.
std::string checkpoint_name(int64_t global_step);

// The complete step checkpoints in `checkpoints_dir`, oldest first (hidden temporary folders and
// folders without trainer_state.json are not checkpoints).
std::vector<std::filesystem::path> step_checkpoints(const std::filesystem::path& checkpoints_dir);
// Every finished checkpoint folder (step-* and best-*; hidden ones are unfinished writes), sorted.
std::vector<std::filesystem::path> checkpoint_folders(const std::filesystem::path& checkpoints_dir);

// Removes all but the newest `keep` step checkpoints, and leftover temporary folders.
void prune_checkpoints(const std::filesystem::path& checkpoints_dir, int64_t keep);

}  // namespace tervit::engine
