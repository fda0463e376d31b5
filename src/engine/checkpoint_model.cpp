#include "tervit/engine/checkpoint_model.h"

#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "models/model_metadata.h"
#include "tervit/quant/quantizer_state.h"

namespace tervit::engine {

namespace fs = std::filesystem;

CheckpointModel load_checkpoint_model(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw Error(folder.string() + ": not a checkpoint folder");
  const auto model_file = folder / "model.safetensors";
  const auto weights = read_safetensors(model_file);
  const auto architecture = models::architecture_from_metadata(weights.metadata);
  if (!architecture) throw Error(model_file.string() + ": no architecture (family, config) in its metadata");
  const auto quant = weights.metadata.find("quant");
  if (quant == weights.metadata.end()) throw Error(model_file.string() + ": no quantizer ('quant') in its metadata");
  CheckpointModel loaded{*architecture, models::create_model(*architecture),
                         quant::quant_spec_from_json(quant->second, model_file.string()), YAML::Node()};
  models::load_weights(*loaded.model, weights, model_file.string());
  models::apply_quant_spec(*loaded.model, loaded.quant);
  const auto quantizers = folder / "quantizers.safetensors";
  quant::load_quantizer_state(*loaded.model, read_safetensors(quantizers).tensors, quantizers.string());
  const auto config = folder / "config.yaml";
  try {
    loaded.config = YAML::LoadFile(config.string());
  } catch (const YAML::Exception& e) {
    throw Error(config.string() + ": cannot read the run config: " + e.msg);
  }
  return loaded;
}

}  // namespace tervit::engine
