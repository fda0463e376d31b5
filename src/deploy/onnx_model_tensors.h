#pragma once
// A model's tensors as the ONNX graph takes them: every state-dict tensor in float32 under its timm
// name, and each quantizable layer's matrix (a conv's flattened to C_out x C_in·k·k) either in float or,
// where the layer is quantized, as integer codes with one scale per output channel: from its weight
// quantizer (ternary, int8), or from the packed trits and α of a packed model's layer.
#include <torch/torch.h>

#include <map>
#include <string>

#include "models/vision_model.h"
#include "tervit/quant/weight_quantizer.h"

namespace tervit::deploy {

struct ExportedMatrix {
  torch::Tensor weight;          // [out, in] float32: a full-precision layer; undefined when quantized
  quant::IntegerWeight integer;  // codes [out, in] (float32 holding integers), scale [out]; or undefined
  torch::Tensor bias;            // [out] float32, or undefined
  bool quantized() const { return integer.codes.defined(); }
  // The float matrix the layer computes with: the weight, or codes · scale.
  torch::Tensor float_weight() const;
};

class ModelTensors {
 public:
  explicit ModelTensors(models::VisionModelImpl& model);
  // A tensor of the state dict; a name the model lacks is a std::logic_error (the graph asked wrongly).
  const torch::Tensor& tensor(const std::string& name) const;
  const ExportedMatrix& matrix(const std::string& layer) const;
  int64_t quantized_layers() const;

 private:
  std::map<std::string, torch::Tensor> tensors_;
  std::map<std::string, ExportedMatrix> matrices_;
};

}  // namespace tervit::deploy
