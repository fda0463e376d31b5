#pragma once
// The learnable tensors of a model's quantizers (ternary α, LSQ steps) by name, for checkpoints:
// "<layer>.weight_quantizer.<i>" and "<layer>.input_quantizer.<i>" ("blocks.0.attn.qkv.weight_quantizer.0").
// Restoring them needs the same quantizer spec applied first (the trainer applies the stage's).
#include <torch/torch.h>

#include <string>

#include "tervit/libtorch/safetensors.h"

namespace tervit::quant {

TensorMap quantizer_state(torch::nn::Module& model);

// Copies the saved values into the model's quantizers. Throws tervit::Error naming `source` and the
// tensor when one is missing, unexpected, or of another shape.
void load_quantizer_state(torch::nn::Module& model, const TensorMap& state, const std::string& source);

}  // namespace tervit::quant
