#pragma once
// A trained model as a checkpoint folder holds it: the architecture and the quantizer from
// model.safetensors' metadata, the latent weights, the learned quantizer tensors, and the run's config
// (for the data section's normalisation and crop). A model trained ternary comes back ternary.
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "models/registry.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::engine {

struct CheckpointModel {
  models::ModelArchitecture architecture;
  models::VisionModel model;  // on the CPU, quantizers applied
  quant::QuantSpec quant;
  YAML::Node config;  // the resolved run config
};

// Throws tervit::Error naming the folder and the part that is missing or malformed.
CheckpointModel load_checkpoint_model(const std::filesystem::path& folder);

}  // namespace tervit::engine
