#include "models/vision_model.h"

#include "tervit/quant/batched_weights.h"

namespace tervit::models {

torch::Tensor VisionModelImpl::forward(const torch::Tensor& images) {
  std::vector<quant::QuantizableLayer*> layers;
  for (const auto& [name, layer] : quant::quantizable_layers(*this)) layers.push_back(layer);
  const quant::BatchedWeights weights(layers);
  return forward_head(head_features(images));
}

}  // namespace tervit::models
