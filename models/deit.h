#pragma once
// DeiT / ViT as timm's VisionTransformer and VisionTransformerDistilled (timm 0.9.16): conv patch
// embedding, class token (+ distillation token), learned position embedding, pre-norm blocks, final
// norm, token pooling, head (+ head_dist). Parameter names equal timm's.
#include <torch/torch.h>

#include "models/layers.h"
#include "models/vision_model.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::models {

struct DeiTOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 768;
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, num_heads) = 12;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  // A distillation token and a second head (DeiT's distilled variants).
  TORCH_ARG(bool, distilled) = false;
  TORCH_ARG(double, drop_rate) = 0.0;  // dropout before the head
  TORCH_ARG(double, pos_drop_rate) = 0.0;
  TORCH_ARG(double, proj_drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  // Stochastic depth, increasing linearly from 0 at the first block to this at the last.
  TORCH_ARG(double, drop_path_rate) = 0.0;
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop, double proj_drop);
  // queries > 0: the outputs of the first `queries` tokens alone (every token is still a key and value).
  torch::Tensor forward(const torch::Tensor& x, int64_t queries = 0);

 private:
  int64_t num_heads_;
  quant::QuantLinear qkv_ = nullptr;
  quant::QuantLinear proj_ = nullptr;
  torch::nn::Dropout attn_drop_ = nullptr;
  torch::nn::Dropout proj_drop_ = nullptr;
};
TORCH_MODULE(Attention);

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const DeiTOptions& options, double drop_path);
  // queries > 0: the outputs of the first `queries` tokens alone, as Attention's.
  torch::Tensor forward(const torch::Tensor& x, int64_t queries = 0);

 private:
  torch::nn::LayerNorm norm1_ = nullptr;
  Attention attn_ = nullptr;
  torch::nn::LayerNorm norm2_ = nullptr;
  Mlp mlp_ = nullptr;
  DropPath drop_path_ = nullptr;
};
TORCH_MODULE(Block);

class DeiTImpl : public VisionModelImpl {
 public:
  explicit DeiTImpl(const DeiTOptions& options);
  torch::Tensor forward_features(const torch::Tensor& images) override;
  torch::Tensor forward_head(const torch::Tensor& features, bool pre_logits = false) override;
  // The class (and distillation) tokens after the final norm: the last block computes attention, projection
  // and MLP for them alone, about 6% of the model's products at 224x224.
  torch::Tensor head_features(const torch::Tensor& images) override;
  // Distilled variants in training: the class-token and distillation-token logits, apart.
  std::pair<torch::Tensor, torch::Tensor> forward_head_distilled(const torch::Tensor& features);

  int64_t num_classes() const override { return options_.num_classes(); }
  int64_t img_size() const override { return options_.img_size(); }
  int64_t in_chans() const override { return options_.in_chans(); }
  std::vector<std::string> classifier_prefixes() const override;
  const DeiTOptions& options() const { return options_; }

 private:
  void init_weights();
  // The tokens after the blocks (before the final norm); the last block's for its first last_queries
  // tokens alone when that is not 0.
  torch::Tensor block_tokens(const torch::Tensor& images, int64_t last_queries);

  DeiTOptions options_;
  torch::nn::ModuleHolder<quant::QuantConv2dImpl> patch_proj_ = nullptr;
  torch::Tensor cls_token_, dist_token_, pos_embed_;
  torch::nn::Dropout pos_drop_ = nullptr;
  torch::nn::ModuleList blocks_ = nullptr;
  torch::nn::LayerNorm norm_ = nullptr;
  torch::nn::Dropout head_drop_ = nullptr;
  quant::QuantLinear head_ = nullptr;
  quant::QuantLinear head_dist_ = nullptr;
};
TORCH_MODULE(DeiT);

}  // namespace tervit::models
