// tervit-export: a packed ternary model file (2 or 1.6 bits per weight, safetensors container), or an ONNX
// model (float, qdq or dynamic: deploy/onnx_export.h), from a training checkpoint folder or from float
// weights quantized on the spot; the ONNX export also from a packed file.
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
#include "tervit/core/atomic_file.h"
#include "tervit/core/json_text.h"
#include "tervit/deploy/onnx_export.h"
#include "tervit/deploy/packed_format.h"
#include "tervit/deploy/packed_model.h"
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
  std::string packed;
  std::string out;
  std::string format = "packed";
  std::string onnx_form = "float";
  bool packing_options_given = false;  // --bits or --float-dtype on the command line
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

// The model to export with what the files record beside it: a checkpoint folder (model.safetensors with
// "family", "config" and "quant" metadata, the trained α in quantizers.safetensors, the run's config),
// float weights (the command line's quantizer options) or a packed file (its trits, α and metadata).
struct ExportSource {
  std::string path;
  tervit::models::VisionModel model;
  tervit::models::ModelArchitecture architecture;
  tervit::quant::QuantSpec quant;
  int64_t selected_layers = 0;  // the layers the quantizer settings select
  std::vector<std::string> class_names;
  nlohmann::json preprocess;
};

// The run's eval preprocessing from a checkpoint's config.yaml (its data section), stored in the exported
// file so that it is evaluated as the run did; null when the folder has no config.
nlohmann::json run_preprocess(const std::filesystem::path& checkpoint) {
  const auto config = checkpoint / "config.yaml";
  if (!std::filesystem::exists(config)) return nullptr;
  const auto data = tervit::load_yaml_file(config)["data"];
  nlohmann::json preprocess = nlohmann::json::object();
  for (const auto* key : {"crop_pct", "interpolation", "mean", "std"})
    if (data && data[key]) preprocess[key] = tervit::yaml_to_json(data[key]);
  return preprocess.empty() ? nlohmann::json() : preprocess;
}

ExportSource packed_source(const ExportOptions& options) {
  using namespace tervit;
  if (!options.model.empty() || !options.architecture.empty() || !options.class_names.empty())
    throw Error("--packed: the architecture and class names come from the packed file; drop --model, --arch and --class-names");
  auto packed = deploy::load_packed_model(options.packed, kernels::PackedMode::kExact);
  return {options.packed, packed.model, packed.architecture, packed.quant, packed.packed_layers, packed.class_names, packed.preprocess};
}

ExportSource load_source(const ExportOptions& options, bool quant_options_given) {
  using namespace tervit;
  const int sources = !options.checkpoint.empty() + !options.weights.empty() + !options.packed.empty();
  if (sources != 1) throw Error("give one of --checkpoint DIR, --weights FILE or --packed FILE");
  if (!options.packed.empty()) {
    if (quant_options_given) throw Error("--packed: the file's weights are ternary already; drop the quantizer options");
    return packed_source(options);
  }
  if (!options.checkpoint.empty() && quant_options_given)
    throw Error("--checkpoint: the quantizer settings come from the checkpoint; drop the quantizer options");
  const auto path = options.checkpoint.empty() ? options.weights
                                               : (std::filesystem::path(options.checkpoint) / "model.safetensors").string();
  const auto weights = read_safetensors(path);
  const auto spec = options.checkpoint.empty() ? options.quant : engine::recorded_quant_spec(weights, path);
  const auto named = options.model.empty() ? std::nullopt
                                           : std::optional(models::model_architecture(options.model, YAML::Load(options.architecture)));
  auto loaded = engine::model_from_weights(weights, path, named, spec);
  // A checkpoint's trained α (and LSQ steps) sit beside the weights, in the trainer's quantizer state.
  const auto quantizers = std::filesystem::path(options.checkpoint) / "quantizers.safetensors";
  if (!options.checkpoint.empty() && std::filesystem::exists(quantizers))
    quant::load_quantizer_state(*loaded.model, read_safetensors(quantizers).tensors, quantizers.string());
  else if (spec.learnable_alpha())
    throw Error(path + ": learnable α needs the trained values: export the checkpoint folder that holds quantizers.safetensors");
  ExportSource source{path, loaded.model, loaded.architecture, spec, static_cast<int64_t>(loaded.quantized_layers.size()), {}, nullptr};
  if (!options.class_names.empty()) source.class_names = runtime::read_class_names_file(options.class_names, loaded.model->num_classes());
  if (!options.checkpoint.empty()) source.preprocess = run_preprocess(options.checkpoint);
  return source;
}

nlohmann::json write_packed(const ExportSource& source, const ExportOptions& options) {
  using namespace tervit;
  if (!options.packed.empty()) throw Error("--packed: the file is packed already; --format onnx exports it");
  if (source.quant.weight_quant() != quant::WeightQuant::kTernary)
    throw Error("tervit-export packs ternary weights, but the quantizer settings are " + quant::describe(source.quant) +
                " (--format onnx exports those)");
  deploy::PackOptions pack;
  pack.bits = kernels::packed_bits_names().parse(options.bits, "--bits");
  pack.float_dtype = parse_float_dtype(options.float_dtype);
  pack.class_names = source.class_names;
  pack.preprocess = source.preprocess;
  const auto file = deploy::pack_model(*source.model, source.architecture, source.quant, pack);
  write_safetensors(options.out, file.tensors, file.metadata);
  const int64_t layers = static_cast<int64_t>(quant::quantizable_layers(*source.model).size());
  spdlog::info("{} of {} matrices packed at {} bits per weight", source.selected_layers, layers, options.bits);
  return {{"bits", options.bits}, {"packed_layers", source.selected_layers}, {"float_layers", layers - source.selected_layers}};
}

nlohmann::json write_onnx(const ExportSource& source, const ExportOptions& options) {
  using namespace tervit;
  if (options.packing_options_given) throw Error("--bits and --float-dtype shape packed files; --format onnx takes --onnx-form");
  deploy::OnnxExportOptions onnx;
  onnx.form = deploy::onnx_form_names().parse(options.onnx_form, "--onnx-form");
  onnx.quant = source.quant;
  onnx.class_names = source.class_names;
  onnx.preprocess = source.preprocess;
  const auto exported = deploy::export_onnx(*source.model, source.architecture, onnx);
  write_file_atomically(options.out, exported.bytes);
  nlohmann::json operators = exported.operators;
  spdlog::info("onnx {} form, opset 17: {}", options.onnx_form, operators.dump());
  return {{"onnx_form", options.onnx_form}, {"operators", operators}, {"integer_weights", exported.integer_weights}};
}

int run(const ExportOptions& options, const tervit::ProcessOptions& process, bool quant_options_given) {
  using namespace tervit;
  start_process("tervit-export", process);  // exports run on the CPU whatever the device
  const bool onnx = options.format == "onnx";
  if (!onnx && options.format != "packed") throw Error("--format: unknown '" + options.format + "', expected packed or onnx");
  const auto source = load_source(options, quant_options_given);
  spdlog::info("weights {}: {}", quant::describe(source.quant), quant::model_size(*source.model).summary());
  auto summary = onnx ? write_onnx(source, options) : write_packed(source, options);
  const auto bytes = static_cast<int64_t>(std::filesystem::file_size(options.out));
  spdlog::info("wrote {}: {:.3f} MB ({} bytes)", options.out, bytes / 1e6, bytes);
  summary["file"] = options.out;
  summary["format"] = options.format;
  summary["bytes"] = bytes;
  summary["megabytes"] = bytes / 1e6;
  std::cout << json_text(summary) << "\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tervit-export: write a packed ternary model (2 or 1.6 bits per weight) for tervit's CPU kernels, or an ONNX model"};
  ExportOptions options;
  tervit::ProcessOptions process;
  app.add_option("--checkpoint", options.checkpoint, "checkpoint folder (model.safetensors with architecture and quant metadata)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--weights", options.weights, "float weights in safetensors format, timm names, ternarized on the spot")
      ->check(CLI::ExistingFile);
  app.add_option("--packed", options.packed, "packed model file (tervit-export's own output), for --format onnx")
      ->check(CLI::ExistingFile);
  app.add_option("--model", options.model, "model name (e.g. deit_small_patch16_224); default: the weights' metadata");
  app.add_option("--arch", options.architecture, "architecture fields over --model's, e.g. '{img_size: 112, num_classes: 10}'");
  app.add_option("--out", options.out, "file to write")->required();
  app.add_option("--format", options.format, "packed (tervit's 2-bit file) or onnx")->capture_default_str();
  app.add_option("--onnx-form", options.onnx_form,
                 "with --format onnx: float (every weight float32), qdq (INT8 codes, DequantizeLinear) or dynamic "
                 "(INT8 codes, activations quantized per call: ONNX Runtime's integer kernels)")
      ->capture_default_str();
  app.add_option("--bits", options.bits, "bits per ternary weight: 2 (4 per byte) or 1.6 (5 per byte)")->capture_default_str();
  app.add_option("--float-dtype", options.float_dtype, "dtype of the other tensors: f16 or f32")->capture_default_str();
  app.add_option("--class-names", options.class_names, "file with one class name per line, stored in the metadata")
      ->check(CLI::ExistingFile);
  auto* quant_group = app.add_option_group("quantization", "quantization of --weights (a checkpoint records its own)");
  tervit::quant::add_quant_options(*quant_group, options.quant);
  tervit::add_process_options(app, process);
  return tervit::run_app(app, argc, argv, [&] {
    options.packing_options_given = app.count("--bits") + app.count("--float-dtype") > 0;
    return run(options, process, quant_group->count_all() > 0);
  });
}
