#include "tervit/deploy/packed_format.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "tervit/core/error.h"
#include "tervit/libtorch/state_dict.h"
#include "models/model_metadata.h"
#include "tervit/kernels/packed_matrix.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/ternary.h"

namespace tervit::deploy {

torch::Tensor pack_trits(const int8_t* trits, int64_t rows, int64_t cols, kernels::PackedBits bits) {
  auto packed = torch::empty(kernels::packed_shape(rows, cols, bits), torch::kUInt8);
  if (bits == kernels::PackedBits::k2) {
    const auto matrix = kernels::pack_matrix(trits, rows, cols);
    std::memcpy(packed.data_ptr(), matrix.blocks, matrix.total_blocks() * sizeof(kernels::Block2Bit));
  } else {
    kernels::pack_1_6bit(trits, rows * cols, reinterpret_cast<kernels::Block1_6Bit*>(packed.data_ptr<uint8_t>()));
  }
  return packed;
}

SafetensorsData pack_model(models::VisionModelImpl& model, const models::ModelArchitecture& architecture,
                           const quant::QuantSpec& spec, const PackOptions& options) {
  torch::NoGradGuard no_grad;
  SafetensorsData file;
  auto floats = module_state_dict(model);
  for (const auto& [name, layer] : quant::quantizable_layers(model)) {
    const auto& quantizer = layer->weight_quantizer();
    if (!quantizer) continue;  // full precision: stored with the other tensors
    const auto* ternary = dynamic_cast<const quant::TernaryQuantizer*>(quantizer.get());
    if (ternary == nullptr)
      throw Error(name + ": a packed model holds ternary or full-precision matrices, not " + quantizer->name() + " ones");
    const auto weight = layer->latent_weight().detach().to(torch::kCPU, torch::kFloat32);
    const int64_t rows = weight.size(0), cols = weight.numel() / rows;
    const auto ternarized = ternary->ternarize(weight);  // the learnable α when the quantizer has one
    const auto trits = ternarized.codes.reshape({rows, cols}).to(torch::kInt8).contiguous();
    file.tensors[name + kernels::kPackedWeightSuffix] = pack_trits(trits.data_ptr<int8_t>(), rows, cols, options.bits);
    file.tensors[name + kernels::kAlphaSuffix] = ternarized.alpha.reshape({-1}).to(torch::kCPU, torch::kFloat16);
    floats.erase(name + ".weight");
  }
  for (const auto& [name, tensor] : floats) file.tensors[name] = tensor.to(torch::kCPU, options.float_dtype);
  file.metadata = models::architecture_metadata(architecture);
  file.metadata["format"] = kernels::kPackedFormat;
  file.metadata["format_version"] = kernels::kPackedFormatVersion;
  file.metadata["bits"] = kernels::packed_bits_names().name(options.bits);
  file.metadata["quant"] = quant::quant_spec_json(spec);
  if (!options.class_names.empty()) file.metadata["class_names"] = nlohmann::json(options.class_names).dump();
  if (!options.preprocess.is_null()) file.metadata["preprocess"] = options.preprocess.dump();
  return file;
}

}  // namespace tervit::deploy
