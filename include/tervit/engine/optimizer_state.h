#pragma once
// AdamW's per-parameter state (step, exp_avg, exp_avg_sq) as named tensors, so that a checkpoint
// stores it in safetensors and a resumed run continues with exactly the same moments. Names are
// "group<g>.param<i>.<field>" by position in the optimizer's parameter groups, which the trainer
// builds in the same order on every run of a config.
#include <torch/torch.h>

#include <string>

#include "tervit/libtorch/safetensors.h"

namespace tervit::engine {

// Parameters that have not been stepped yet have no state and no entry.
TensorMap adamw_state(torch::optim::AdamW& optimizer);

// Restores what adamw_state saved. Throws tervit::Error naming `source` when an entry is missing
// parts, names a parameter that does not exist, or disagrees with its parameter's shape.
void load_adamw_state(torch::optim::AdamW& optimizer, const TensorMap& state, const std::string& source);

}  // namespace tervit::engine
