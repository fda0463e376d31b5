#include "src/deploy/onnx_layers.h"

#include <cmath>

namespace tervit::deploy {

std::string OnnxLayers::linear(const std::string& x, const std::string& layer) {
  const auto& matrix = tensors_.matrix(layer);
  graph_.set_scope(layer);
  std::string y;
  if (!matrix.quantized() || form_ == OnnxForm::kFloat) {
    y = graph_.node("MatMul", {x, graph_.initializer(layer + ".weight_t", matrix.float_weight().t())});
  } else {
    const auto& codes = graph_.initializer(layer + ".codes_t", matrix.integer.codes.t().to(torch::kInt8));
    const auto& scale = graph_.initializer(layer + ".scale", matrix.integer.scale);
    if (form_ == OnnxForm::kQdq) {
      const auto& zero = graph_.initializer(layer + ".zero_point", torch::zeros_like(matrix.integer.scale, torch::kInt8));
      y = graph_.node("MatMul", {x, graph_.node("DequantizeLinear", {codes, scale, zero}, {{"axis", int64_t{1}}})});
    } else {
      const auto quantized = graph_.node("DynamicQuantizeLinear", {x}, 3, {});
      const auto product = graph_.node("MatMulInteger", {quantized[0], codes, quantized[2]});
      const auto as_float = graph_.node("Cast", {product}, {{"to", int64_t{onnx::TensorProto_DataType_FLOAT}}});
      y = graph_.node("Mul", {as_float, graph_.node("Mul", {quantized[1], scale})});
    }
  }
  if (matrix.bias.defined()) y = graph_.node("Add", {y, graph_.initializer(layer + ".bias", matrix.bias)});
  return y;
}

std::string OnnxLayers::layer_norm(const std::string& x, const std::string& prefix, float eps) {
  graph_.set_scope(prefix);
  const auto& weight = graph_.initializer(prefix + ".weight", tensors_.tensor(prefix + ".weight"));
  const auto& bias = graph_.initializer(prefix + ".bias", tensors_.tensor(prefix + ".bias"));
  return graph_.node("LayerNormalization", {x, weight, bias}, {{"axis", int64_t{-1}}, {"epsilon", eps}});
}

std::string OnnxLayers::mlp(const std::string& x, const std::string& prefix) {
  const auto h = linear(x, prefix + ".fc1");
  graph_.set_scope(prefix + ".act");
  // 0.5 · h · (1 + erf(h / √2)): the form ONNX Runtime and OpenVINO fuse into their GELU.
  const auto erf = graph_.node("Erf", {graph_.node("Div", {h, graph_.float_scalar(static_cast<float>(std::sqrt(2.0)))})});
  const auto gelu = graph_.node("Mul", {graph_.node("Mul", {h, graph_.node("Add", {erf, graph_.float_scalar(1.0f)})}),
                                        graph_.float_scalar(0.5f)});
  return linear(gelu, prefix + ".fc2");
}

std::string OnnxLayers::attention(const std::string& x, const std::string& prefix, int64_t heads, int64_t dim, int64_t tokens,
                                  const std::string& bias, const std::string& mask, int64_t mask_groups, int64_t queries) {
  const int64_t head_dim = dim / heads;
  const auto qkv = linear(x, prefix + ".qkv");
  graph_.set_scope(prefix);
  // [groups, tokens, 3, heads, head_dim] -> [3, groups, heads, tokens, head_dim]
  const auto split = graph_.node("Transpose", {graph_.node("Reshape", {qkv, graph_.int64s({-1, tokens, 3, heads, head_dim})})},
                                 {{"perm", std::vector<int64_t>{2, 0, 3, 1, 4}}});
  const auto part = [&](int64_t i) { return graph_.node("Gather", {split, graph_.int64_scalar(i)}, {{"axis", int64_t{0}}}); };
  auto q = part(0);
  if (queries > 0) q = graph_.node("Slice", {q, graph_.int64s({0}), graph_.int64s({queries}), graph_.int64s({2})});
  q = graph_.node("Mul", {q, graph_.float_scalar(static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim))))});
  const auto k_t = graph_.node("Transpose", {part(1)}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  auto scores = graph_.node("MatMul", {q, k_t});
  if (!bias.empty()) scores = graph_.node("Add", {scores, bias});
  if (!mask.empty()) {
    const auto by_window = graph_.node("Reshape", {scores, graph_.int64s({-1, mask_groups, heads, tokens, tokens})});
    scores = graph_.node("Reshape", {graph_.node("Add", {by_window, mask}), graph_.int64s({-1, heads, tokens, tokens})});
  }
  const auto probabilities = graph_.node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  const auto attended = graph_.node("MatMul", {probabilities, part(2)});  // [groups, heads, tokens, head_dim]
  const auto merged = graph_.node("Reshape", {graph_.node("Transpose", {attended}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}}),
                                              graph_.int64s({-1, queries > 0 ? queries : tokens, dim})});
  return linear(merged, prefix + ".proj");
}

std::string OnnxLayers::unfold_patches(const std::string& images, int64_t channels, int64_t side, int64_t patch) {
  const int64_t grid = side / patch;
  graph_.set_scope("patch_embed");
  const auto blocks = graph_.node("Reshape", {images, graph_.int64s({0, channels, grid, patch, grid, patch})});
  const auto ordered = graph_.node("Transpose", {blocks}, {{"perm", std::vector<int64_t>{0, 2, 4, 1, 3, 5}}});
  return graph_.node("Reshape", {ordered, graph_.int64s({0, grid * grid, channels * patch * patch})});
}

}  // namespace tervit::deploy
