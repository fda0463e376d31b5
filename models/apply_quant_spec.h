#pragma once
// A QuantSpec applied to a model: which of its quantizable layers get which quantizers.
#include <string>
#include <vector>

#include "models/vision_model.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::models {

// Gives every selected quantizable layer a fresh weight quantizer (and, on linears, an input
// quantizer); every other layer returns to full precision. Latent weights are untouched, so switching
// stages keeps them. Learnable quantizer tensors are created on the weights' device: apply after
// moving the model. Returns the names of the selected layers.
std::vector<std::string> apply_quant_spec(VisionModelImpl& model, const quant::QuantSpec& spec);

}  // namespace tervit::models
