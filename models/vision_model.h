#pragma once
// What every backbone family offers, as in timm: forward_features (tokens or feature map after the
// final norm) and forward_head (pooling + classifier, or the pooled "pre-logits" features).
#include <torch/torch.h>

#include <string>
#include <vector>

namespace tervit::models {

class VisionModelImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward_features(const torch::Tensor& images) = 0;
  virtual torch::Tensor forward_head(const torch::Tensor& features, bool pre_logits = false) = 0;
  // What forward_head reads, computed no further than it needs: forward_features, or (DeiT, whose head
  // reads the class tokens) those tokens alone. forward_head gives the same from either.
  virtual torch::Tensor head_features(const torch::Tensor& images) { return forward_features(images); }
  // forward_head(head_features(images)), with the quantized layers' weights prepared in a few batched
  // passes for the whole pass (quant/batched_weights.h) rather than one quantizer run per layer.
  torch::Tensor forward(const torch::Tensor& images);

  virtual int64_t num_classes() const = 0;
  virtual int64_t img_size() const = 0;
  virtual int64_t in_chans() const = 0;
  // State-dict prefixes of the classifier(s): what a fine-tune to another class count replaces.
  virtual std::vector<std::string> classifier_prefixes() const = 0;
};

using VisionModel = std::shared_ptr<VisionModelImpl>;

}  // namespace tervit::models
