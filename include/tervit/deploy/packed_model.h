#pragma once
// A runnable model from a packed file (packed_format.h): the architecture is built from the metadata,
// the float tensors are loaded as usual, and every packed layer runs tervit's ternary kernels from its
// packed weights (its float weight is released). The reader is strict: a truncated file, a packed
// tensor whose block count does not fit its layer, a code that is no trit, or metadata that disagrees
// with the tensors is a tervit::Error naming the file and the tensor; nothing is read out of bounds.
#include <filesystem>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/deploy/packed_format.h"
#include "tervit/deploy/packed_linear.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::deploy {

struct PackedModel {
  models::VisionModel model;  // eval mode, on the CPU (packed layers refuse other devices)
  models::ModelArchitecture architecture;
  quant::QuantSpec quant;                // the settings the weights were ternarized with
  kernels::PackedBits bits = kernels::PackedBits::k2;
  std::vector<std::string> class_names;  // empty when the file has none
  nlohmann::json preprocess;             // the training run's crop_pct, interpolation, mean, std (checked); null when none
  int64_t packed_layers = 0;             // layers running packed kernels; the others run in float
};

PackedModel load_packed_model(const std::filesystem::path& path, kernels::PackedMode mode);
// The same from a file already read; `source` names it in errors.
PackedModel load_packed_model(const SafetensorsData& file, const std::string& source, kernels::PackedMode mode);

}  // namespace tervit::deploy
