#include "models/cpu_gelu.h"

#include "tervit/kernels/float_ops.h"

namespace tervit::models {

namespace {

torch::Tensor gelu_values(const torch::Tensor& x) {
  auto y = torch::empty_like(x);
  kernels::gelu(x.data_ptr<float>(), x.numel(), y.data_ptr<float>());
  return y;
}

class CpuGeluFunction : public torch::autograd::Function<CpuGeluFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    ctx->save_for_backward({x});
    return gelu_values(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    const auto grad = grads[0].contiguous();
    auto grad_x = torch::empty_like(x);
    kernels::gelu_backward(x.data_ptr<float>(), grad.data_ptr<float>(), x.numel(), grad_x.data_ptr<float>());
    return {grad_x};
  }
};

}  // namespace

torch::Tensor cpu_gelu(const torch::Tensor& x) {
  TORCH_CHECK(x.is_cpu() && x.scalar_type() == torch::kFloat, "gelu: the CPU kernels take float32 CPU tensors");
  const auto input = x.contiguous();
  if (torch::GradMode::is_enabled() && x.requires_grad()) return CpuGeluFunction::apply(input);
  return gelu_values(input);
}

}  // namespace tervit::models
