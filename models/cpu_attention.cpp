#include "models/cpu_attention.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace tervit::models {

namespace {

// Sizes of one call, and each (window, head) task's matrices as views on the tensors' memory: from_blob
// builds them without crossing the dispatcher, which select and narrow would cross a dozen times per
// head (some 4% of deit_tiny's step).
struct AttentionShape {
  int64_t windows, tokens, queries, channels, heads, head_dim, bias_groups;
  double scale;

  AttentionShape(const torch::Tensor& qkv, int64_t heads_, int64_t queries_, int64_t bias_groups_)
      : windows(qkv.size(0)), tokens(qkv.size(1)), queries(queries_ > 0 ? queries_ : qkv.size(1)), channels(qkv.size(2) / 3),
        heads(heads_), head_dim(channels / heads_), bias_groups(bias_groups_),
        scale(1.0 / std::sqrt(static_cast<double>(head_dim))) {}

  // Part (0 q, 1 k, 2 v) of head h of window w in a contiguous (W, N, 3 C) tensor: tokens x head_dim with
  // rows 3 C apart (q: the attending rows only); transposed: head_dim x tokens.
  torch::Tensor part(const torch::Tensor& qkv, int64_t w, int64_t part_index, int64_t h, bool transposed = false) const {
    float* data = qkv.data_ptr<float>() + w * tokens * 3 * channels + part_index * channels + h * head_dim;
    const int64_t rows = part_index == 0 ? queries : tokens;
    return transposed ? view(data, {head_dim, rows}, {1, 3 * channels}) : view(data, {rows, head_dim}, {3 * channels, 1});
  }
  // Head h of window w in a contiguous (W, queries, C) tensor.
  torch::Tensor head(const torch::Tensor& x, int64_t w, int64_t h) const {
    return view(x.data_ptr<float>() + w * queries * channels + h * head_dim, {queries, head_dim}, {channels, 1});
  }
  // Matrix (w, h) of a contiguous (W or G, heads, queries, N) tensor, w taken modulo its first size.
  torch::Tensor scores(const torch::Tensor& x, int64_t w, int64_t h, bool transposed = false) const {
    float* data = x.data_ptr<float>() + ((w % x.size(0)) * heads + h) * queries * tokens;
    return transposed ? view(data, {tokens, queries}, {1, tokens}) : view(data, {queries, tokens}, {tokens, 1});
  }

  // The (window, head) tasks, spread over the threads in contiguous runs. Grad mode is per thread and on in
  // OpenMP's other threads, where the out= ops would refuse inputs that require grad: it is off in each.
  template <typename Body>
  void for_each_head(const Body& body) const {
    at::parallel_for(0, windows * heads, 1, [&](int64_t begin, int64_t end) {
      torch::NoGradGuard no_grad;
      body(begin, end);
    });
  }

 private:
  static torch::Tensor view(float* data, at::IntArrayRef sizes, at::IntArrayRef strides) {
    return torch::from_blob(data, sizes, strides, torch::kFloat);
  }
};

void check_inputs(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, int64_t queries) {
  TORCH_CHECK(qkv.dim() == 3 && heads > 0 && qkv.size(2) % (3 * heads) == 0,
              "attention: qkv must be (windows, tokens, 3 x channels) with channels a multiple of ", heads, " heads, got ",
              qkv.sizes());
  TORCH_CHECK(qkv.is_cpu() && qkv.scalar_type() == torch::kFloat, "attention: the fused CPU path takes float32 CPU tensors");
  TORCH_CHECK(queries >= 0 && queries <= qkv.size(1), "attention: ", queries, " attending tokens of ", qkv.size(1));
  if (!bias.defined()) return;
  const int64_t rows = queries > 0 ? queries : qkv.size(1);
  TORCH_CHECK(bias.dim() == 4 && bias.size(1) == heads && bias.size(2) == rows && bias.size(3) == qkv.size(1) &&
                  qkv.size(0) % bias.size(0) == 0 && bias.is_cpu() && bias.scalar_type() == torch::kFloat,
              "attention: bias must be float32 (groups, heads, queries, tokens) with windows a multiple of groups, got ",
              bias.sizes(), " for qkv ", qkv.sizes());
}

// softmax(q · scale · kᵀ + bias) · v for every head, as (W, queries, C); each head's probabilities go
// to probs (W, heads, queries, N) when defined (kept for backward), else to a scratch matrix.
torch::Tensor attention_forward(const AttentionShape& s, const torch::Tensor& qkv, const torch::Tensor& bias,
                                const torch::Tensor& probs) {
  const auto options = qkv.options();
  const auto out = torch::empty({s.windows, s.queries, s.channels}, options);
  s.for_each_head([&](int64_t begin, int64_t end) {
    // at::*_out take their outputs as non-const references.
    auto scores = torch::empty({s.queries, s.tokens}, options);
    auto scratch_probs = probs.defined() ? torch::Tensor() : torch::empty({s.queries, s.tokens}, options);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t w = task / s.heads, h = task % s.heads;
      // The scale as the product's alpha: timm scales q first, which rounds the same for power-of-two scales.
      at::addmm_out(scores, scores, s.part(qkv, w, 0, h), s.part(qkv, w, 1, h, /*transposed=*/true), 0.0, s.scale);
      if (bias.defined()) scores.add_(s.scores(bias, w, h));
      auto p = probs.defined() ? s.scores(probs, w, h) : scratch_probs;
      at::_softmax_out(p, scores, 1, false);
      auto out_head = s.head(out, w, h);
      at::mm_out(out_head, p, s.part(qkv, w, 2, h));
    }
  });
  return out;
}

class CpuAttentionFunction : public torch::autograd::Function<CpuAttentionFunction> {
 public:
  // bias_or_empty: the bias, or an empty tensor for none (LibTorch 1.13's apply takes no undefined tensor).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& qkv, int64_t heads,
                               const torch::Tensor& bias_or_empty, int64_t queries) {
    const auto bias = bias_or_empty.numel() > 0 ? bias_or_empty : torch::Tensor();
    const AttentionShape s(qkv, heads, queries, bias.defined() ? bias.size(0) : 1);
    const auto probs = torch::empty({s.windows, s.heads, s.queries, s.tokens}, qkv.options());
    const auto out = attention_forward(s, qkv, bias, probs);
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["queries"] = s.queries;
    ctx->saved_data["bias_groups"] = s.bias_groups;
    ctx->saved_data["bias_needs_grad"] = bias.defined() && bias.requires_grad();
    ctx->save_for_backward({qkv, probs});
    return out;
  }

  // With P the probabilities and dO the output's gradient, per head: dV = Pᵀ dO, dP = dO Vᵀ,
  // dS = P ⊙ (dP − rowsum(P ⊙ dP)), dQ = dS K · scale, dK = dSᵀ Q · scale, d bias = the sum of dS
  // over the windows that share a group. Rows of q that do not attend get no gradient.
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& qkv = saved[0];
    const auto& probs = saved[1];
    const AttentionShape s(qkv, ctx->saved_data["heads"].toInt(), ctx->saved_data["queries"].toInt(),
                           ctx->saved_data["bias_groups"].toInt());
    const auto grad_out = grads[0].contiguous();
    const auto options = qkv.options();
    const auto grad_qkv = s.queries == s.tokens ? torch::empty_like(qkv) : torch::zeros_like(qkv);
    const auto grad_scores = ctx->saved_data["bias_needs_grad"].toBool() ? torch::empty_like(probs) : torch::Tensor();
    s.for_each_head([&](int64_t begin, int64_t end) {
      auto grad_probs = torch::empty({s.queries, s.tokens}, options);
      auto scratch_scores = grad_scores.defined() ? torch::Tensor() : torch::empty({s.queries, s.tokens}, options);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t w = task / s.heads, h = task % s.heads;
        const auto p = s.scores(probs, w, h);
        const auto grad_head = s.head(grad_out, w, h);
        auto grad_q = s.part(grad_qkv, w, 0, h), grad_k = s.part(grad_qkv, w, 1, h), grad_v = s.part(grad_qkv, w, 2, h);
        at::mm_out(grad_v, s.scores(probs, w, h, /*transposed=*/true), grad_head);
        at::mm_out(grad_probs, grad_head, s.part(qkv, w, 2, h, /*transposed=*/true));
        auto ds = grad_scores.defined() ? s.scores(grad_scores, w, h) : scratch_scores;
        at::_softmax_backward_data_out(ds, grad_probs, p, 1, torch::kFloat);
        at::addmm_out(grad_q, grad_q, ds, s.part(qkv, w, 1, h), 0.0, s.scale);
        at::addmm_out(grad_k, grad_k, ds.t(), s.part(qkv, w, 0, h), 0.0, s.scale);
      }
    });
    torch::Tensor grad_bias;
    if (grad_scores.defined())
      grad_bias = grad_scores.view({s.windows / s.bias_groups, s.bias_groups, s.heads, s.queries, s.tokens}).sum(0);
    return {grad_qkv, torch::Tensor(), grad_bias, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor cpu_attention(const torch::Tensor& qkv, int64_t heads, const torch::Tensor& bias, int64_t queries) {
  check_inputs(qkv, heads, bias, queries);
  const auto input = qkv.contiguous();
  const auto contiguous_bias = bias.defined() ? bias.contiguous() : bias;
  if (torch::GradMode::is_enabled() && (qkv.requires_grad() || (bias.defined() && bias.requires_grad()))) {
    const auto bias_or_empty = bias.defined() ? contiguous_bias : torch::empty({0}, qkv.options());
    return CpuAttentionFunction::apply(input, heads, bias_or_empty, queries);
  }
  // No graph: nothing is kept, each thread's probabilities stay in one scratch matrix.
  return attention_forward(AttentionShape(input, heads, queries, bias.defined() ? bias.size(0) : 1), input, contiguous_bias,
                           torch::Tensor());
}

}  // namespace tervit::models
