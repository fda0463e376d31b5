// Swin (models/swin.h) as ONNX. Feature maps stay token rows [batch, H·W, C] (row-major, as the model's
// NHWC flattened); every reordering the model makes with views, rolls and permutes (the shifted window
// partition and its reverse, patch merging's 2x2 neighbourhoods) is one Gather along the tokens, whose
// index table comes from applying the model's own functions to the token positions.
#include <string>

#include "src/deploy/onnx_families.h"

namespace tervit::deploy {

namespace {

constexpr float kSwinNormEps = 1e-5f;

std::string suffix(int64_t resolution, int64_t window, int64_t shift) {
  return "_r" + std::to_string(resolution) + "_w" + std::to_string(window) + "_s" + std::to_string(shift);
}

// Where each token of the window partition comes from: the positions of a resolution² map, rolled by
// -shift on both axes and partitioned as the model does.
torch::Tensor window_order(int64_t resolution, int64_t window, int64_t shift) {
  auto positions = torch::arange(resolution * resolution, torch::kInt64).view({1, resolution, resolution, 1});
  if (shift > 0) positions = torch::roll(positions, {-shift, -shift}, {1, 2});
  return models::window_partition(positions, window).flatten();
}

// The tokens of x [batch, tokens, C] taken in `order` (no node when it is the identity).
std::string gather_tokens(OnnxGraph& graph, const std::string& x, const torch::Tensor& order, const std::string& name) {
  if (order.equal(torch::arange(order.numel(), torch::kInt64))) return x;
  return graph.node("Gather", {x, graph.initializer(name, order)}, {{"axis", int64_t{1}}});
}

// The block's relative position bias [heads, N, N], gathered from its table by the shared index.
std::string relative_position_bias(OnnxLayers& layers, const std::string& prefix, int64_t window, int64_t heads) {
  auto& graph = layers.graph();
  const int64_t n = window * window;
  const auto table = prefix + ".relative_position_bias_table";
  const auto& index = graph.initializer("relative_position_index_w" + std::to_string(window),
                                        models::relative_position_index(window).flatten().to(torch::kInt64));
  const auto rows = graph.node("Gather", {graph.initializer(table, layers.tensors().tensor(table)), index}, {{"axis", int64_t{0}}});
  return graph.node("Transpose", {graph.node("Reshape", {rows, graph.int64s({n, n, heads})})}, {{"perm", std::vector<int64_t>{2, 0, 1}}});
}

std::string swin_block(OnnxLayers& layers, models::SwinBlockImpl& block, const std::string& p, const std::string& x, int64_t resolution,
                       int64_t dim, int64_t heads) {
  auto& graph = layers.graph();
  const int64_t window = block.window_size(), shift = block.shift_size(), tokens = resolution * resolution;
  const int64_t windows = tokens / (window * window);
  const auto order = window_order(resolution, window, shift);
  const auto normed = layers.layer_norm(x, p + ".norm1", kSwinNormEps);
  graph.set_scope(p + ".attn");
  const auto partitioned = gather_tokens(graph, normed, order, "window_order" + suffix(resolution, window, shift));
  const auto bias = relative_position_bias(layers, p + ".attn", window, heads);
  std::string mask;
  if (shift > 0)
    mask = graph.initializer("shift_mask" + suffix(resolution, window, shift),
                             models::shifted_window_mask(resolution, window, shift).unsqueeze(1).to(torch::kFloat32));
  const auto attended = layers.attention(partitioned, p + ".attn", heads, dim, window * window, bias, mask, windows);
  graph.set_scope(p);
  const auto rows = graph.node("Reshape", {attended, graph.int64s({-1, tokens, dim})});
  auto y = graph.node("Add", {x, gather_tokens(graph, rows, order.argsort(), "window_reverse" + suffix(resolution, window, shift))});
  const auto mlp = layers.mlp(layers.layer_norm(y, p + ".norm2", kSwinNormEps), p + ".mlp");
  graph.set_scope(p);
  return graph.node("Add", {y, mlp});
}

// 2x2 neighbourhoods of the (2·resolution)² map to channels, norm, reduction: [batch, resolution², 2·dim].
std::string patch_merging(OnnxLayers& layers, const std::string& p, const std::string& x, int64_t resolution, int64_t dim) {
  auto& graph = layers.graph();
  graph.set_scope(p);
  const int64_t side = 2 * resolution;
  const auto positions = torch::arange(side * side, torch::kInt64).view({1, side, side, 1});
  const auto order = models::merge_neighbourhoods(positions).flatten();
  const auto grouped = gather_tokens(graph, x, order, "merge_order_r" + std::to_string(side));
  const auto merged = graph.node("Reshape", {grouped, graph.int64s({0, resolution * resolution, 4 * dim})});
  return layers.linear(layers.layer_norm(merged, p + ".norm", kSwinNormEps), p + ".reduction");
}

}  // namespace

std::string swin_graph(OnnxLayers& layers, models::SwinImpl& model, const std::string& images) {
  const auto& o = model.options();
  const auto modules = model.named_modules();
  const int64_t grid = o.img_size() / o.patch_size();
  const auto patches = layers.linear(layers.unfold_patches(images, o.in_chans(), o.img_size(), o.patch_size()), "patch_embed.proj");
  auto x = layers.layer_norm(patches, "patch_embed.norm", kSwinNormEps);
  for (size_t s = 0; s < o.depths().size(); ++s) {
    const int64_t dim = o.embed_dim() << s, resolution = grid >> s;
    const std::string p = "layers." + std::to_string(s);
    if (s > 0) x = patch_merging(layers, p + ".downsample", x, resolution, dim / 2);
    for (int64_t i = 0; i < o.depths()[s]; ++i) {
      const auto name = p + ".blocks." + std::to_string(i);
      auto& block = *modules[name]->as<models::SwinBlockImpl>();
      x = swin_block(layers, block, name, x, resolution, dim, o.num_heads()[s]);
    }
  }
  x = layers.layer_norm(x, "norm", kSwinNormEps);
  layers.graph().set_scope("head");
  const auto pooled = layers.graph().node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  return layers.linear(pooled, "head.fc");
}

}  // namespace tervit::deploy
