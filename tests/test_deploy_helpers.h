#pragma once
// Shared by the deploy suites: fixture models ternarized on the spot, and the fake-quantized LibTorch
// model that holds exactly the values a packed file stores (the reference of exact mode).
#include "models/model_metadata.h"
#include "models/apply_quant_spec.h"
#include "models/pretrained.h"
#include "test_helpers.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/libtorch/state_dict.h"
#include "tervit/core/strings.h"
#include "tervit/kernels/packed_blocks.h"
#include "tervit/deploy/packed_format.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::testing {

struct FixtureModel {
  models::VisionModel model;
  models::ModelArchitecture architecture;
};

// A timm fixture (deit_mini, swin_mini) with `spec` applied, in eval mode.
inline FixtureModel quantized_fixture(const std::string& name, const quant::QuantSpec& spec) {
  const auto weights = read_safetensors(timm_fixture(name + ".safetensors"));
  FixtureModel fixture{nullptr, *models::architecture_from_metadata(weights.metadata)};
  fixture.model = models::create_model(fixture.architecture);
  models::load_weights(*fixture.model, weights, name);
  models::apply_quant_spec(*fixture.model, spec);
  fixture.model->eval();
  return fixture;
}

inline quant::QuantSpec ternary() { return quant::QuantSpec().weight_quant(quant::WeightQuant::kTernary); }

// A timm fixture with `spec` applied, packed.
inline SafetensorsData packed_fixture(const std::string& name, const quant::QuantSpec& spec, deploy::PackOptions options = {}) {
  const auto fixture = quantized_fixture(name, spec);
  torch::NoGradGuard no_grad;
  return deploy::pack_model(*fixture.model, fixture.architecture, spec, options);
}

// A float model whose packed layers hold α·T unpacked from `file` (α and the other tensors rounded as
// the file stores them): what the packed model must compute, written with nothing but the reference
// unpacking and LibTorch.
inline models::VisionModel stored_values_model(const SafetensorsData& file) {
  auto model = models::create_model(*models::architecture_from_metadata(file.metadata));
  model->eval();
  const auto bits = kernels::packed_bits_names().parse(file.metadata.at("bits"), "bits");
  const auto parameters = model->named_parameters();
  TensorMap tensors;
  for (const auto& [name, tensor] : file.tensors) {
    if (!ends_with(name, kernels::kPackedWeightSuffix)) {
      if (!ends_with(name, kernels::kAlphaSuffix)) tensors[name] = tensor;
      continue;
    }
    const auto layer = name.substr(0, name.size() - kernels::kPackedWeightSuffix.size());
    const auto shape = parameters[layer + ".weight"].sizes();
    const int64_t rows = shape[0], cols = parameters[layer + ".weight"].numel() / rows;
    auto trits = torch::empty({rows, cols}, torch::kInt8);
    const auto* blocks = tensor.data_ptr<uint8_t>();
    if (bits == kernels::PackedBits::k2) {
      for (int64_t r = 0; r < rows; ++r)
        kernels::unpack_2bit(reinterpret_cast<const kernels::Block2Bit*>(blocks) + r * kernels::block_count<kernels::Block2Bit>(cols),
                            cols, trits.data_ptr<int8_t>() + r * cols);
    } else {
      kernels::unpack_1_6bit(reinterpret_cast<const kernels::Block1_6Bit*>(blocks), rows * cols, trits.data_ptr<int8_t>());
    }
    const auto alpha = file.tensors.at(layer + kernels::kAlphaSuffix).to(torch::kFloat).unsqueeze(1);
    tensors[layer + ".weight"] = (alpha * trits.to(torch::kFloat)).reshape(shape);
  }
  load_state_dict(*model, tensors, {}, "packed file");
  return model;
}

}  // namespace tervit::testing
