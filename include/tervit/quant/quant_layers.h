#pragma once
// The layer types through which every weight matrix that TerViT quantizes passes (qkv, proj, fc1, fc2,
// patch merging, patch embedding, head). Parameters are named `weight` and `bias` exactly as in
// torch.nn.Linear / Conv2d, so timm state dicts load as they are; the quantizers are not submodules and
// therefore never show up in a state dict (their learnable tensors: quantizer_parameters()).
#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tervit/quant/activation_quant.h"
#include "tervit/quant/weight_quantizer.h"

namespace tervit::quant {

// A replacement for a layer's float matrix product: deploy/ runs packed ternary weights through its
// own kernels. Maps tokens (..., in_features) to (..., out_features), bias included.
class MatrixKernel {
 public:
  virtual ~MatrixKernel() = default;
  virtual torch::Tensor forward(const torch::Tensor& tokens) const = 0;
};

using MatrixKernelPtr = std::shared_ptr<const MatrixKernel>;

// Shared by QuantLinear and QuantConv2d: owns the weight and input quantizers and applies them.
class QuantizableLayer {
 public:
  virtual ~QuantizableLayer() = default;
  void set_weight_quantizer(WeightQuantizerPtr quantizer) { weight_quantizer_ = std::move(quantizer); }
  const WeightQuantizerPtr& weight_quantizer() const { return weight_quantizer_; }
  void set_input_quantizer(ActivationQuantizerPtr quantizer) { input_quantizer_ = std::move(quantizer); }
  const ActivationQuantizerPtr& input_quantizer() const { return input_quantizer_; }
  virtual const torch::Tensor& latent_weight() const = 0;
  // The weight forward uses: the latent weight itself in full precision, else its quantized form (the one
  // BatchedWeights prepared, while one is alive).
  torch::Tensor effective_weight() const {
    if (prepared_weight_.defined()) return prepared_weight_;
    return weight_quantizer_ ? weight_quantizer_->quantize(latent_weight()) : latent_weight();
  }
  // Set and cleared by BatchedWeights (batched_weights.h).
  void set_prepared_weight(torch::Tensor weight) { prepared_weight_ = std::move(weight); }
  // The input forward uses: as given, or fake-quantized to 8 bits.
  torch::Tensor effective_input(const torch::Tensor& input) const {
    return input_quantizer_ ? input_quantizer_->quantize(input) : input;
  }
  // When set, forward() runs this instead of the quantizers and the weight (packed deployment models).
  void set_kernel(MatrixKernelPtr kernel) { kernel_ = std::move(kernel); }
  const MatrixKernelPtr& kernel() const { return kernel_; }

 private:
  WeightQuantizerPtr weight_quantizer_;
  ActivationQuantizerPtr input_quantizer_;
  MatrixKernelPtr kernel_;
  torch::Tensor prepared_weight_;
};

// While one is alive on this thread, new QuantLinear/QuantConv2d layers reserve their weight and bias
// without writing them, and init_linears_like_timm passes them by: the pages of a float matrix that is
// about to be replaced (a packed model's) are then never touched, so they never count as resident.
// Whoever holds one must load or replace every such tensor.
class SkipMatrixInit {
 public:
  SkipMatrixInit();
  ~SkipMatrixInit();
  SkipMatrixInit(const SkipMatrixInit&) = delete;
  SkipMatrixInit& operator=(const SkipMatrixInit&) = delete;

 private:
  bool previous_;
};
bool matrix_init_skipped();

struct QuantLinearOptions {
  QuantLinearOptions(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
};

class QuantLinearImpl : public torch::nn::Cloneable<QuantLinearImpl>, public QuantizableLayer {
 public:
  QuantLinearImpl(int64_t in_features, int64_t out_features)
      : QuantLinearImpl(QuantLinearOptions(in_features, out_features)) {}
  explicit QuantLinearImpl(const QuantLinearOptions& options);
  void reset() override;
  void reset_parameters();
  torch::Tensor forward(const torch::Tensor& input);
  const torch::Tensor& latent_weight() const override { return weight; }

  QuantLinearOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(QuantLinear);

struct QuantConv2dOptions {
  QuantConv2dOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size),
        stride_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride);
  TORCH_ARG(bool, bias) = true;
};

// A square-kernel, unpadded convolution: the patch embedding is the only conv in DeiT and Swin.
class QuantConv2dImpl : public torch::nn::Cloneable<QuantConv2dImpl>, public QuantizableLayer {
 public:
  explicit QuantConv2dImpl(const QuantConv2dOptions& options);
  void reset() override;
  void reset_parameters();
  torch::Tensor forward(const torch::Tensor& input);
  const torch::Tensor& latent_weight() const override { return weight; }

  QuantConv2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(QuantConv2d);

// Every quantizable layer of a model with its dotted name ("blocks.0.attn.qkv"), in module order.
std::vector<std::pair<std::string, QuantizableLayer*>> quantizable_layers(torch::nn::Module& model);

// The learnable tensors of every layer's quantizers (α, LSQ steps), for the optimizer beside
// model.parameters(). They live where the weights lived when the quantizers were made.
std::vector<torch::Tensor> quantizer_parameters(torch::nn::Module& model);

}  // namespace tervit::quant
