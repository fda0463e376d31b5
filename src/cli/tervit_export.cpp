// tervit-export: a packed ternary model file (2 or 1.6 bits per weight, safetensors container) from a
// training checkpoint folder or from float weights ternarized on the spot.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "tervit/libtorch/app.h"
#include "tervit/core/config.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/core/yaml_json.h"
#include "tervit/deploy/packed_format.h"
#include "tervit/engine/model_from_file.h"
#include "tervit/runtime/prediction.h"
#include "tervit/quant/model_size.h"
#include "tervit/quant/quant_spec.h"
#include "tervit/quant/quantizer_state.h"

namespace {

struct ExportOptions {
  std::string checkpoint;
  std::string model;
  std::string architecture;
  std::string weights;
  std::string out;
  std::string bits = "2";
  std::string float_dtype = "f16";
  std::string class_names;
  tervit::quant::QuantSpec quant = tervit::quant::QuantSpec().weight_quant(tervit::quant::WeightQuant::kTernary);
};

torch::ScalarType parse_float_dtype(const std::string& name) {
  if (name == "f16") return torch::kFloat16;
  if (name == "f32") return torch::kFloat32;
  throw tervit::Error("--float-dtype: unknown '" + name + "', expected f16 or f32");
}

// The float weights and the quantizer settings: a checkpoint folder records both (model.safetensors with
// "family", "config" and "quant" metadata, the trained α in quantizers.safetensors); float weights take
// the command line's quantizer options.
std::pair<tervit::SafetensorsData, tervit::quant::QuantSpec> read_source(const ExportOptions& options, bool quant_options_given,
                                                                         std::string& source) {
  using namespace tervit;
  if (options.checkpoint.empty() == options.weights.empty()) throw Error("give either --checkpoint DIR or --weights FILE");
  if (options.checkpoint.empty()) {
    source = options.weights;
    return {read_safetensors(source), options.quant};
  }
  if (quant_options_given)
    throw Error("--checkpoint: the quantizer settings come from the checkpoint; drop the quantizer options");
  source = (std::filesystem::path(options.checkpoint) / "model.safetensors").string();
  auto weights = read_safetensors(source);
  auto spec = engine::recorded_quant_spec(weights, source);
  return {std::move(weights), std::move(spec)};
}

// The run's eval preprocessing from a checkpoint's config.yaml (its data section), stored in the packed
// file so that tervit-eval --packed evaluates as the run did; null when the folder has no config.
nlohmann::json run_preprocess(const std::filesystem::path& checkpoint) {
  const auto config = checkpoint / "config.yaml";
  if (!std::filesystem::exists(config)) return nullptr;
  const auto data = tervit::load_yaml_file(config)["data"];
  nlohmann::json preprocess = nlohmann::json::object();
  for (const auto* key : {"crop_pct", "interpolation", "mean", "std"})
    if (data && data[key]) preprocess[key] = tervit::yaml_to_json(data[key]);
  return preprocess.empty() ? nlohmann::json() : preprocess;
}

int run(const ExportOptions& options, const tervit::ProcessOptions& process, bool quant_options_given) {
  using namespace tervit;
  start_process("tervit-export", process);  // packing runs on the CPU whatever the device
  std::string source;
  const auto [weights, spec] = read_source(options, quant_options_given, source);
  if (spec.weight_quant() != quant::WeightQuant::kTernary)
    throw Error("tervit-export packs ternary weights, but the quantizer settings are " + quant::describe(spec));
  const auto named = options.model.empty() ? std::nullopt
                                           : std::optional(models::model_architecture(options.model, YAML::Load(options.architecture)));
  const auto loaded = engine::model_from_weights(weights, source, named, spec);
  const auto& model = loaded.model;
  const auto& selected = loaded.quantized_layers;
  // A checkpoint's trained α (and LSQ steps) sit beside the weights, in the trainer's quantizer state.
  const auto quantizers = std::filesystem::path(options.checkpoint) / "quantizers.safetensors";
  if (!options.checkpoint.empty() && std::filesystem::exists(quantizers))
    quant::load_quantizer_state(*model, read_safetensors(quantizers).tensors, quantizers.string());
  else if (spec.learnable_alpha())
    throw Error(source + ": learnable α needs the trained values: export the checkpoint folder that holds quantizers.safetensors");
  spdlog::info("weights {}: {}", quant::describe(spec), quant::model_size(*model).summary());

  deploy::PackOptions pack;
  pack.bits = kernels::packed_bits_names().parse(options.bits, "--bits");
  pack.float_dtype = parse_float_dtype(options.float_dtype);
  if (!options.class_names.empty()) pack.class_names = runtime::read_class_names_file(options.class_names, model->num_classes());
  if (!options.checkpoint.empty()) pack.preprocess = run_preprocess(options.checkpoint);
  const auto file = deploy::pack_model(*model, loaded.architecture, spec, pack);
  write_safetensors(options.out, file.tensors, file.metadata);

  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(options.out));
  const int64_t layers = static_cast<int64_t>(quant::quantizable_layers(*model).size());
  spdlog::info("wrote {}: {:.3f} MB ({} bytes), {} of {} matrices packed at {} bits per weight", options.out, bytes / 1e6, bytes,
               selected.size(), layers, options.bits);
  std::cout << nlohmann::json{{"file", options.out},
                              {"bytes", bytes},
                              {"megabytes", bytes / 1e6},
                              {"bits", options.bits},
                              {"packed_layers", selected.size()},
                              {"float_layers", layers - static_cast<int64_t>(selected.size())}}
                   .dump()
            << "\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tervit-export: write a packed ternary model (2 or 1.6 bits per weight) for tervit's CPU kernels"};
  ExportOptions options;
  tervit::ProcessOptions process;
  app.add_option("--checkpoint", options.checkpoint, "checkpoint folder (model.safetensors with architecture and quant metadata)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--weights", options.weights, "float weights in safetensors format, timm names, ternarized on the spot")
      ->check(CLI::ExistingFile);
  app.add_option("--model", options.model, "model name (e.g. deit_small_patch16_224); default: the weights' metadata");
  app.add_option("--arch", options.architecture, "architecture fields over --model's, e.g. '{img_size: 112, num_classes: 10}'");
  app.add_option("--out", options.out, "packed model file to write")->required();
  app.add_option("--bits", options.bits, "bits per ternary weight: 2 (4 per byte) or 1.6 (5 per byte)")->capture_default_str();
  app.add_option("--float-dtype", options.float_dtype, "dtype of the other tensors: f16 or f32")->capture_default_str();
  app.add_option("--class-names", options.class_names, "file with one class name per line, stored in the metadata")
      ->check(CLI::ExistingFile);
  auto* quant_group = app.add_option_group("quantization", "ternarization of --weights (a checkpoint records its own)");
  tervit::quant::add_quant_options(*quant_group, options.quant);
  tervit::add_process_options(app, process);
  return tervit::run_app(app, argc, argv, [&] { return run(options, process, quant_group->count_all() > 0); });
}
