#pragma once
// The trainer's checkpoints (checkpoint.h's folders) from a running TrainingRun: rank 0 writes them; a
// failed write (a full disk) stops the run or is logged, as checkpoint.on_write_error says.
#include <filesystem>
#include <optional>

#include "src/engine/training_run.h"

namespace tervit::engine {

// A checkpoint of the run's current weights, quantizers, optimizer, EMA and diagnostics, recording `position`.
Checkpoint make_checkpoint(const TrainingRun& run, const StageConfig& stage, const TrainerState& position);

// Writes (or replaces) `folder`. Returns whether it was written; other ranks than rank 0 count it as written.
// With checkpoint.on_write_error: stop, a failed write throws std::runtime_error.
bool save_checkpoint(const TrainingRun& run, const StageConfig& stage, const TrainerState& position,
                     const std::filesystem::path& folder);

// The step checkpoint of `position`, then the older ones beyond checkpoint.keep_last are removed. Returns its
// folder, or nullopt when it could not be written.
std::optional<std::filesystem::path> save_step_checkpoint(const TrainingRun& run, const StageConfig& stage,
                                                          const TrainerState& position);

}  // namespace tervit::engine
