#include "tervit/engine/model_from_file.h"

#include "models/apply_quant_spec.h"
#include "models/model_metadata.h"
#include "models/pretrained.h"
#include "tervit/core/error.h"
#include "tervit/quant/quantizer_state.h"

namespace tervit::engine {

namespace fs = std::filesystem;

ModelFromFile model_from_weights(const SafetensorsData& weights, const std::string& source,
                                 const std::optional<models::ModelArchitecture>& named, const quant::QuantSpec& quant) {
  const auto architecture = named ? named : models::architecture_from_metadata(weights.metadata);
  if (!architecture) throw Error(source + ": no architecture ('family' and 'config') in its metadata; name one with --model");
  ModelFromFile loaded{*architecture, models::create_model(*architecture), quant, {}};
  models::load_weights(*loaded.model, weights, source);
  loaded.quantized_layers = models::apply_quant_spec(*loaded.model, quant);
  return loaded;
}

quant::QuantSpec recorded_quant_spec(const SafetensorsData& weights, const std::string& source) {
  const auto quant = weights.metadata.find("quant");
  if (quant == weights.metadata.end())
    throw Error(source + ": no quantizer ('quant') in its metadata: it is not a quantization-aware checkpoint");
  return quant::quant_spec_from_json(quant->second, source);
}

CheckpointModel load_checkpoint_model(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw Error(folder.string() + ": not a checkpoint folder");
  const auto model_file = (folder / "model.safetensors").string();
  const auto weights = read_safetensors(model_file);
  CheckpointModel loaded{model_from_weights(weights, model_file, std::nullopt, recorded_quant_spec(weights, model_file))};
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
