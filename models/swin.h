#pragma once
// Swin Transformer in timm's current layout (timm 0.9.16): patch embedding with norm, stages whose
// first step (from stage 1 on) is patch merging, (shifted) window attention with a relative position
// bias table, final norm, average pool, head.fc. Feature maps are NHWC as in timm. Parameter names
// equal timm's.
#include <torch/torch.h>

#include <vector>

#include "models/layers.h"
#include "models/vision_model.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::models {

struct SwinOptions {
  TORCH_ARG(int64_t, img_size) = 224;
  TORCH_ARG(int64_t, patch_size) = 4;
  TORCH_ARG(int64_t, in_chans) = 3;
  TORCH_ARG(int64_t, num_classes) = 1000;
  TORCH_ARG(int64_t, embed_dim) = 96;
  TORCH_ARG(std::vector<int64_t>, depths) = std::vector<int64_t>{2, 2, 6, 2};
  TORCH_ARG(std::vector<int64_t>, num_heads) = std::vector<int64_t>{3, 6, 12, 24};
  TORCH_ARG(int64_t, window_size) = 7;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = true;
  TORCH_ARG(double, drop_rate) = 0.0;
  TORCH_ARG(double, attn_drop_rate) = 0.0;
  // Stochastic depth, increasing linearly over all blocks of all stages (timm's default 0.1).
  TORCH_ARG(double, drop_path_rate) = 0.1;
};

// The window geometry, shared with deploy's ONNX graph (which applies them to token indices):
// (B, H, W, C) -> (B * H/ws * W/ws, ws*ws, C), windows in row-major order.
torch::Tensor window_partition(const torch::Tensor& x, int64_t ws);
// For each pair of positions in a window (N x N), the row of the bias table holding their relative offset.
torch::Tensor relative_position_index(int64_t ws);
// (nW, N, N): 0 within a region, -100 (timm's constant) between regions that shifted windows bring
// together but that are not neighbours in the image.
torch::Tensor shifted_window_mask(int64_t resolution, int64_t ws, int64_t shift);
// Patch merging's layout: (B, H, W, C) -> (B, H/2, W/2, 4C), each 2x2 neighbourhood's tokens as channels.
torch::Tensor merge_neighbourhoods(const torch::Tensor& x);

// A tensor that is not state (not in any state dict, as timm's non-persistent buffers) but must follow
// the model to its device: moved on first use on another device, then kept there.
class DeviceTensor {
 public:
  DeviceTensor() = default;
  explicit DeviceTensor(torch::Tensor value) : value_(std::move(value)) {}
  const torch::Tensor& on(const torch::Device& device);
  bool defined() const { return value_.defined(); }

 private:
  torch::Tensor value_;
};

class WindowAttentionImpl : public torch::nn::Module {
 public:
  WindowAttentionImpl(int64_t dim, int64_t num_heads, int64_t window_size, bool qkv_bias, double attn_drop, double proj_drop);
  // x: (num_windows * B, window_size^2, C); mask: (num_windows, N, N) or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  torch::Tensor relative_position_bias(const torch::Device& device);

  int64_t num_heads_;
  int64_t window_area_;
  torch::Tensor relative_position_bias_table_;
  DeviceTensor relative_position_index_;
  quant::QuantLinear qkv_ = nullptr;
  quant::QuantLinear proj_ = nullptr;
  torch::nn::Dropout attn_drop_ = nullptr;
  torch::nn::Dropout proj_drop_ = nullptr;
};
TORCH_MODULE(WindowAttention);

struct SwinBlockOptions {
  int64_t dim = 0;
  int64_t resolution = 0;  // square feature map side
  int64_t num_heads = 1;
  int64_t window_size = 7;
  int64_t shift_size = 0;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  double drop = 0.0;
  double attn_drop = 0.0;
  double drop_path = 0.0;
};

class SwinBlockImpl : public torch::nn::Module {
 public:
  explicit SwinBlockImpl(const SwinBlockOptions& options);
  torch::Tensor forward(const torch::Tensor& x);  // (B, H, W, C)
  int64_t window_size() const { return window_size_; }
  int64_t shift_size() const { return shift_size_; }

 private:
  torch::Tensor windowed_attention(const torch::Tensor& x);

  int64_t window_size_;
  int64_t shift_size_;
  DeviceTensor attn_mask_;
  torch::nn::LayerNorm norm1_ = nullptr;
  WindowAttention attn_ = nullptr;
  torch::nn::LayerNorm norm2_ = nullptr;
  Mlp mlp_ = nullptr;
  DropPath drop_path_ = nullptr;
};
TORCH_MODULE(SwinBlock);

// 2x2 neighbourhood -> channels (timm's order, equal to the official repository's x0,x1,x2,x3), norm,
// linear reduction 4C -> 2C without bias.
class PatchMergingImpl : public torch::nn::Module {
 public:
  explicit PatchMergingImpl(int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm_ = nullptr;
  quant::QuantLinear reduction_ = nullptr;
};
TORCH_MODULE(PatchMerging);

class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(const SwinOptions& options, int64_t stage, const std::vector<double>& drop_paths);
  torch::Tensor forward(torch::Tensor x);

 private:
  PatchMerging downsample_ = nullptr;
  torch::nn::ModuleList blocks_ = nullptr;
};
TORCH_MODULE(SwinStage);

class SwinImpl : public VisionModelImpl {
 public:
  explicit SwinImpl(const SwinOptions& options);
  torch::Tensor forward_features(const torch::Tensor& images) override;  // (B, H, W, C) after the final norm
  torch::Tensor forward_head(const torch::Tensor& features, bool pre_logits = false) override;

  int64_t num_classes() const override { return options_.num_classes(); }
  int64_t img_size() const override { return options_.img_size(); }
  int64_t in_chans() const override { return options_.in_chans(); }
  std::vector<std::string> classifier_prefixes() const override { return {"head.fc."}; }
  const SwinOptions& options() const { return options_; }

 private:
  SwinOptions options_;
  torch::nn::ModuleHolder<quant::QuantConv2dImpl> patch_proj_ = nullptr;
  torch::nn::LayerNorm patch_norm_ = nullptr;
  torch::nn::ModuleList layers_ = nullptr;
  torch::nn::LayerNorm norm_ = nullptr;
  torch::nn::Dropout head_drop_ = nullptr;
  quant::QuantLinear head_fc_ = nullptr;
};
TORCH_MODULE(Swin);

}  // namespace tervit::models
