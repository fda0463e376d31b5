#pragma once
// The pieces of a transformer as ONNX nodes, shared by the DeiT and Swin graphs: the matrix product of a
// quantizable layer in the export's form (onnx_export.h), LayerNorm, the MLP, multi-head attention, and
// the patch embedding's unfolding.
#include <string>

#include "src/deploy/onnx_graph.h"
#include "src/deploy/onnx_model_tensors.h"
#include "tervit/deploy/onnx_export.h"

namespace tervit::deploy {

class OnnxLayers {
 public:
  OnnxLayers(OnnxGraph& graph, const ModelTensors& tensors, OnnxForm form) : graph_(graph), tensors_(tensors), form_(form) {}
  OnnxGraph& graph() { return graph_; }
  const ModelTensors& tensors() const { return tensors_; }

  // x [..., in] -> [..., out] through the quantizable layer `layer` (bias included).
  std::string linear(const std::string& x, const std::string& layer);
  std::string layer_norm(const std::string& x, const std::string& prefix, float eps);
  // fc2(gelu(fc1(x))), GELU exact (erf), as timm's.
  std::string mlp(const std::string& x, const std::string& prefix);
  // Attention of `prefix` (qkv, proj) within groups of `tokens` consecutive tokens of x [..., dim] (a
  // DeiT image, a Swin window): returns [groups, tokens, dim]. bias: added to the scores, broadcast to
  // [groups, heads, tokens, tokens] (empty: none); mask: [mask_groups, 1, tokens, tokens], the group g
  // taking mask g % mask_groups (empty: none). queries > 0: only the first that many tokens of each group
  // ask (every token is still a key and value), and the result is [groups, queries, dim].
  std::string attention(const std::string& x, const std::string& prefix, int64_t heads, int64_t dim, int64_t tokens,
                        const std::string& bias, const std::string& mask, int64_t mask_groups, int64_t queries = 0);
  // images [batch, channels, side, side] -> [batch, (side/patch)², channels·patch²], each patch's values
  // in a conv weight's order, for the patch embedding's linear.
  std::string unfold_patches(const std::string& images, int64_t channels, int64_t side, int64_t patch);

 private:
  OnnxGraph& graph_;
  const ModelTensors& tensors_;
  OnnxForm form_;
};

}  // namespace tervit::deploy
