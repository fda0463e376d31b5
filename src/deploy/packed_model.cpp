#include "tervit/deploy/packed_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <memory>
#include <set>
#include <utility>

#include "models/pretrained.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/state_dict.h"
#include "tervit/image/preprocess_metadata.h"
#include "models/model_metadata.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

namespace {

std::string shape_text(c10::IntArrayRef shape) { return c10::str(shape); }

// The kernels' matrix from a packed tensor, after checking its dtype, its block count and every code.
kernels::PackedTernaryMatrix read_matrix(const torch::Tensor& packed, kernels::PackedBits bits, int64_t rows, int64_t cols,
                                const std::string& where) {
  if (packed.scalar_type() != torch::kUInt8)
    throw Error(where + " has dtype " + c10::toString(packed.scalar_type()) + ", packed weights are U8");
  return kernels::read_packed_matrix(packed.sizes().vec(), packed.data_ptr<uint8_t>(), bits, rows, cols, where);
}

std::vector<float> read_alpha(const torch::Tensor& alpha, int64_t rows, int64_t expected, const std::string& where) {
  if (!torch::isFloatingType(alpha.scalar_type()) || alpha.dim() != 1 || alpha.size(0) != expected)
    throw Error(where + " is " + c10::toString(alpha.scalar_type()) + " " + shape_text(alpha.sizes()) + ", but " +
                (expected == 1 ? std::string("layer") : std::string("channel")) + "-wise scales of this layer are float [" +
                std::to_string(expected) + "]");
  const auto values = alpha.to(torch::kFloat32).expand({rows}).contiguous();
  std::vector<float> scales(values.data_ptr<float>(), values.data_ptr<float>() + rows);
  kernels::check_alpha_values(scales, where);
  return scales;
}

torch::Tensor bias_of(quant::QuantizableLayer* layer) {
  if (auto* linear = dynamic_cast<quant::QuantLinearImpl*>(layer)) return linear->bias;
  if (auto* conv = dynamic_cast<quant::QuantConv2dImpl*>(layer)) return conv->bias;
  throw std::logic_error("packed model: a quantizable layer that is neither linear nor conv");
}

}  // namespace

PackedModel load_packed_model(const std::filesystem::path& path, kernels::PackedMode mode) {
  return load_packed_model(read_safetensors(path), path.string(), mode);
}

PackedModel load_packed_model(const SafetensorsData& file, const std::string& source, kernels::PackedMode mode) {
  PackedModel packed;
  packed.bits = kernels::read_packed_bits(file.metadata, source);
  kernels::required_metadata(file.metadata, "family", source);
  kernels::required_metadata(file.metadata, "config", source);
  packed.architecture = with_context(source, [&] { return *models::architecture_from_metadata(file.metadata); });
  packed.quant = quant::quant_spec_from_json(kernels::required_metadata(file.metadata, "quant", source), source);
  {
    // Every matrix is packed in the file or loaded from it below: building them in float without
    // writing them keeps their pages out of the process's resident memory.
    quant::SkipMatrixInit skip_init;
    packed.model = models::create_model(packed.architecture);
  }
  packed.model->eval();
  packed.class_names = kernels::class_names_from_metadata(file.metadata, packed.model->num_classes(), source);
  packed.preprocess = image::read_preprocess(file.metadata, source);

  TensorMap floats = file.tensors;
  std::vector<std::pair<quant::QuantizableLayer*, kernels::PackedTernaryMatrix>> packed_layers;
  std::set<std::string> packed_weights;
  for (const auto& [name, layer] : quant::quantizable_layers(*packed.model)) {
    const auto weights = floats.find(name + kernels::kPackedWeightSuffix);
    const auto alpha = floats.find(name + kernels::kAlphaSuffix);
    if (weights == floats.end() && alpha == floats.end()) continue;  // a full-precision layer
    if (weights == floats.end() || alpha == floats.end())
      throw Error(source + ": layer '" + name + "' has " + (alpha == floats.end() ? "packed weights but no α" : "α but no packed weights"));
    if (floats.count(name + ".weight"))
      throw Error(source + ": layer '" + name + "' has both packed weights and a float weight");
    const int64_t rows = layer->latent_weight().size(0), cols = layer->latent_weight().numel() / rows;
    auto matrix = read_matrix(weights->second, packed.bits, rows, cols, source + ": tensor '" + weights->first + "'");
    matrix.alpha = read_alpha(alpha->second, rows, kernels::packed_alpha_count(file.metadata, rows, source),
                              source + ": tensor '" + alpha->first + "'");
    packed_layers.emplace_back(layer, std::move(matrix));
    packed_weights.insert(name + ".weight");
    floats.erase(weights);
    floats.erase(alpha);
  }

  LoadOptions load;
  load.strict = false;  // the packed layers' float weights are missing by design; the rest is checked below
  const auto report = load_state_dict(*packed.model, floats, load, source);
  const std::set<std::string> missing(report.missing.begin(), report.missing.end());
  if (!report.unexpected.empty() || !report.mismatched.empty() || missing != packed_weights) {
    LoadReport problems = report;
    problems.missing.clear();
    std::set_difference(missing.begin(), missing.end(), packed_weights.begin(), packed_weights.end(),
                        std::back_inserter(problems.missing));
    throw Error(source + ": the tensors do not match the architecture in the metadata: " + problems.summary());
  }

  torch::NoGradGuard no_grad;
  for (auto& [layer, matrix] : packed_layers) {
    const auto bias = bias_of(layer);
    if (bias.defined()) matrix.bias.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + bias.numel());
    layer->latent_weight().set_();  // the float matrix is never used again: release its memory
    layer->set_kernel(std::make_shared<PackedTernaryLinear>(std::move(matrix), mode));
  }
  packed.packed_layers = static_cast<int64_t>(packed_layers.size());
  return packed;
}

}  // namespace tervit::deploy
