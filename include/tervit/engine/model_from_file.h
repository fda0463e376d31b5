#pragma once
// A (quantized) model built from the file that holds it: a safetensors weights file (its architecture from
// the metadata, or named on the command line; a quantizer given), or a checkpoint folder (the architecture
// and the quantizer from model.safetensors' metadata, the learned quantizer tensors, and the run's config
// for the data section's normalisation and crop). A model trained ternary comes back ternary. Packed files
// are deploy/packed_model.h's.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::engine {

struct ModelFromFile {
  models::ModelArchitecture architecture;
  models::VisionModel model;  // on the CPU, quantizers applied
  quant::QuantSpec quant;
  std::vector<std::string> quantized_layers;  // the layers `quant` selected
};

// The model `weights` (read from `source`) holds: the architecture its metadata records, or `named` when
// given; its weights loaded and `quant` applied. Throws tervit::Error naming `source`.
ModelFromFile model_from_weights(const SafetensorsData& weights, const std::string& source,
                                 const std::optional<models::ModelArchitecture>& named, const quant::QuantSpec& quant);

// The quantizer a checkpoint's model.safetensors records ("quant" metadata); an error naming `source` when
// it has none (weights that did not come from quantization-aware training).
quant::QuantSpec recorded_quant_spec(const SafetensorsData& weights, const std::string& source);

struct CheckpointModel : ModelFromFile {
  YAML::Node config;  // the resolved run config
};

// Throws tervit::Error naming the folder and the part that is missing or malformed.
CheckpointModel load_checkpoint_model(const std::filesystem::path& folder);

}  // namespace tervit::engine
