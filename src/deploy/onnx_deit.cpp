// DeiT / ViT (models/deit.h) as ONNX: patch embedding, class (and distillation) token, position
// embedding, pre-norm blocks, final norm, head(s) on the prefix tokens (their mean when distilled).
#include "src/deploy/onnx_families.h"

namespace tervit::deploy {

namespace {
constexpr float kViTNormEps = 1e-6f;  // timm's ViT LayerNorms
}  // namespace

std::string deit_graph(OnnxLayers& layers, const models::DeiTOptions& o, const std::string& images) {
  auto& graph = layers.graph();
  const int64_t dim = o.embed_dim(), grid = o.img_size() / o.patch_size(), prefix = o.distilled() ? 2 : 1;
  const int64_t tokens = grid * grid + prefix;
  const auto patches = layers.linear(layers.unfold_patches(images, o.in_chans(), o.img_size(), o.patch_size()), "patch_embed.proj");

  graph.set_scope("tokens");
  // The prefix tokens expanded to the batch, which only the images' shape knows.
  const auto batch = graph.node("Shape", {images}, {{"start", int64_t{0}}, {"end", int64_t{1}}});
  const auto token_shape = graph.node("Concat", {batch, graph.int64s({1, dim})}, {{"axis", int64_t{0}}});
  std::vector<std::string> sequence{graph.node("Expand", {graph.initializer("cls_token", layers.tensors().tensor("cls_token")), token_shape})};
  if (o.distilled())
    sequence.push_back(graph.node("Expand", {graph.initializer("dist_token", layers.tensors().tensor("dist_token")), token_shape}));
  sequence.push_back(patches);
  auto x = graph.node("Add", {graph.node("Concat", sequence, {{"axis", int64_t{1}}}),
                              graph.initializer("pos_embed", layers.tensors().tensor("pos_embed"))});

  for (int64_t i = 0; i < o.depth(); ++i) {
    const std::string p = "blocks." + std::to_string(i);
    // Only the prefix tokens reach the head(s): past its keys and values, the last block runs on them alone,
    // as the models and tervit-run do (a runtime would otherwise compute 196 rows that nothing reads).
    const int64_t queries = i + 1 == o.depth() ? prefix : 0;
    const auto attended =
        layers.attention(layers.layer_norm(x, p + ".norm1", kViTNormEps), p + ".attn", o.num_heads(), dim, tokens, "", "", 0, queries);
    graph.set_scope(p);
    if (queries > 0) x = graph.node("Slice", {x, graph.int64s({0}), graph.int64s({queries}), graph.int64s({1})});
    x = graph.node("Add", {x, attended});
    const auto mlp = layers.mlp(layers.layer_norm(x, p + ".norm2", kViTNormEps), p + ".mlp");
    graph.set_scope(p);
    x = graph.node("Add", {x, mlp});
  }
  x = layers.layer_norm(x, "norm", kViTNormEps);
  graph.set_scope("head");
  const auto token = [&](int64_t index) { return graph.node("Gather", {x, graph.int64_scalar(index)}, {{"axis", int64_t{1}}}); };
  const auto logits = layers.linear(token(0), "head");
  if (!o.distilled()) return logits;
  const auto logits_dist = layers.linear(token(1), "head_dist");
  graph.set_scope("head");
  return graph.node("Div", {graph.node("Add", {logits, logits_dist}), graph.float_scalar(2.0f)});
}

}  // namespace tervit::deploy
