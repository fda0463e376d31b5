#include "tervit/quant/quant_layers.h"

#include <cmath>

namespace tervit::quant {

namespace {
thread_local bool skip_matrix_init = false;

// torch.nn's default init (kaiming_uniform with a = sqrt(5), bias uniform in +-1/sqrt(fan_in)), so an
// unloaded layer starts where a PyTorch one would.
void reset_like_torch(torch::Tensor& weight, torch::Tensor& bias) {
  if (skip_matrix_init) return;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    // Every dimension but the output channels': not numel / size(0), which divides by zero for a layer
    // without outputs (num_classes 0).
    int64_t fan_in = 1;
    for (int64_t d = 1; d < weight.dim(); ++d) fan_in *= weight.size(d);
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    bias.uniform_(-bound, bound);
  }
}
}  // namespace

SkipMatrixInit::SkipMatrixInit() : previous_(skip_matrix_init) { skip_matrix_init = true; }
SkipMatrixInit::~SkipMatrixInit() { skip_matrix_init = previous_; }
bool matrix_init_skipped() { return skip_matrix_init; }

QuantLinearImpl::QuantLinearImpl(const QuantLinearOptions& options_) : options(options_) { reset(); }

void QuantLinearImpl::reset() {
  weight = register_parameter("weight", torch::empty({options.out_features(), options.in_features()}));
  bias = options.bias() ? register_parameter("bias", torch::empty({options.out_features()})) : torch::Tensor();
  reset_parameters();
}

void QuantLinearImpl::reset_parameters() { reset_like_torch(weight, bias); }

torch::Tensor QuantLinearImpl::forward(const torch::Tensor& input) {
  if (kernel()) return kernel()->forward(input);
  return torch::nn::functional::linear(effective_input(input), effective_weight(), bias);
}

QuantConv2dImpl::QuantConv2dImpl(const QuantConv2dOptions& options_) : options(options_) { reset(); }

void QuantConv2dImpl::reset() {
  const int64_t k = options.kernel_size();
  weight = register_parameter("weight", torch::empty({options.out_channels(), options.in_channels(), k, k}));
  bias = options.bias() ? register_parameter("bias", torch::empty({options.out_channels()})) : torch::Tensor();
  reset_parameters();
}

void QuantConv2dImpl::reset_parameters() { reset_like_torch(weight, bias); }

torch::Tensor QuantConv2dImpl::forward(const torch::Tensor& input) {
  if (kernel()) {
    // The conv as a matrix product over unfolded patches (B, L, C_in*k*k, the weight's flattening order).
    const int64_t k = options.kernel_size(), stride = options.stride();
    const auto patches = torch::nn::functional::unfold(input, torch::nn::functional::UnfoldFuncOptions(k).stride(stride));
    const int64_t rows = (input.size(2) - k) / stride + 1, cols = (input.size(3) - k) / stride + 1;
    return kernel()->forward(patches.transpose(1, 2)).transpose(1, 2).reshape({input.size(0), -1, rows, cols});
  }
  return torch::conv2d(effective_input(input), effective_weight(), bias, options.stride());
}

std::vector<std::pair<std::string, QuantizableLayer*>> quantizable_layers(torch::nn::Module& model) {
  std::vector<std::pair<std::string, QuantizableLayer*>> layers;
  for (auto& item : model.named_modules("", /*include_self=*/false)) {
    if (auto* layer = dynamic_cast<QuantizableLayer*>(item.value().get())) layers.emplace_back(item.key(), layer);
  }
  return layers;
}

std::vector<torch::Tensor> quantizer_parameters(torch::nn::Module& model) {
  std::vector<torch::Tensor> parameters;
  const auto append = [&](const auto& quantizer) {
    if (!quantizer) return;
    const auto owned = quantizer->parameters();
    parameters.insert(parameters.end(), owned.begin(), owned.end());
  };
  for (const auto& [name, layer] : quantizable_layers(model)) {
    append(layer->weight_quantizer());
    append(layer->input_quantizer());
  }
  return parameters;
}

}  // namespace tervit::quant
