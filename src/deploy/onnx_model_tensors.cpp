#include "src/deploy/onnx_model_tensors.h"

#include <algorithm>
#include <stdexcept>

#include "tervit/deploy/packed_linear.h"
#include "tervit/kernels/packed_blocks.h"
#include "tervit/libtorch/state_dict.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

namespace {

// A packed layer's trits (unpacked row by row from the kernels' blocks) and α.
quant::IntegerWeight packed_integer_weight(const kernels::PackedTernaryMatrix& matrix) {
  auto trits = torch::empty({matrix.rows, matrix.cols}, torch::kInt8);
  for (int64_t r = 0; r < matrix.rows; ++r)
    kernels::unpack_2bit(matrix.row(r), matrix.cols, trits.data_ptr<int8_t>() + r * matrix.cols);
  return {trits.to(torch::kFloat32), torch::tensor(matrix.alpha, torch::kFloat32)};
}

}  // namespace

torch::Tensor ExportedMatrix::float_weight() const {
  return quantized() ? integer.codes * integer.scale.unsqueeze(1) : weight;
}

ModelTensors::ModelTensors(models::VisionModelImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : module_state_dict(model))
    if (tensor.numel() > 0) tensors_[name] = tensor.detach().to(torch::kCPU, torch::kFloat32);
  for (const auto& [name, layer] : quant::quantizable_layers(model)) {
    ExportedMatrix matrix;
    const auto bias = tensors_.find(name + ".bias");
    if (bias != tensors_.end()) matrix.bias = bias->second;
    const auto* packed = dynamic_cast<const PackedTernaryLinear*>(layer->kernel().get());
    if (packed != nullptr) {
      matrix.integer = packed_integer_weight(packed->matrix());
    } else {
      const auto weight = layer->latent_weight().detach().to(torch::kCPU, torch::kFloat32);
      const auto rows = weight.size(0);
      if (const auto& quantizer = layer->weight_quantizer()) {
        const auto integer = quantizer->integer_weight(weight);
        matrix.integer = {integer.codes.reshape({rows, -1}).to(torch::kFloat32), integer.scale.to(torch::kFloat32)};
      } else {
        matrix.weight = weight.reshape({rows, -1});
      }
    }
    matrices_[name] = std::move(matrix);
  }
}

const torch::Tensor& ModelTensors::tensor(const std::string& name) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) throw std::logic_error("onnx export: the model has no tensor '" + name + "'");
  return found->second;
}

const ExportedMatrix& ModelTensors::matrix(const std::string& layer) const {
  const auto found = matrices_.find(layer);
  if (found == matrices_.end()) throw std::logic_error("onnx export: the model has no quantizable layer '" + layer + "'");
  return found->second;
}

int64_t ModelTensors::quantized_layers() const {
  return std::count_if(matrices_.begin(), matrices_.end(), [](const auto& entry) { return entry.second.quantized(); });
}

}  // namespace tervit::deploy
