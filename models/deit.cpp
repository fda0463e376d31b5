#include "models/deit.h"

#include "tervit/core/error.h"

namespace tervit::models {

namespace {
torch::nn::LayerNorm vit_layer_norm(int64_t dim) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim}).eps(1e-6));
}
}  // namespace

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop, double proj_drop)
    : num_heads_(num_heads) {
  qkv_ = register_module("qkv", quant::QuantLinear(quant::QuantLinearOptions(dim, 3 * dim).bias(qkv_bias)));
  attn_drop_ = register_module("attn_drop", torch::nn::Dropout(attn_drop));
  proj_ = register_module("proj", quant::QuantLinear(dim, dim));
  proj_drop_ = register_module("proj_drop", torch::nn::Dropout(proj_drop));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, int64_t queries) {
  return proj_drop_(proj_(qkv_attention(qkv_(x), num_heads_, torch::Tensor(), attn_drop_, queries)));
}

BlockImpl::BlockImpl(const DeiTOptions& o, double drop_path) {
  norm1_ = register_module("norm1", vit_layer_norm(o.embed_dim()));
  attn_ = register_module("attn", Attention(o.embed_dim(), o.num_heads(), o.qkv_bias(), o.attn_drop_rate(), o.proj_drop_rate()));
  norm2_ = register_module("norm2", vit_layer_norm(o.embed_dim()));
  const auto hidden = static_cast<int64_t>(o.embed_dim() * o.mlp_ratio());
  mlp_ = register_module("mlp", Mlp(MlpOptions(o.embed_dim(), hidden).drop(o.proj_drop_rate())));
  drop_path_ = register_module("drop_path", DropPath(drop_path));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, int64_t queries) {
  auto y = (queries > 0 ? x.narrow(1, 0, queries) : x) + drop_path_(attn_->forward(norm1_(x), queries));
  return y + drop_path_(mlp_(norm2_(y)));
}

DeiTImpl::DeiTImpl(const DeiTOptions& o) : options_(o) {
  if (o.img_size() % o.patch_size() != 0)
    throw Error("deit: img_size " + std::to_string(o.img_size()) + " is not a multiple of patch_size " + std::to_string(o.patch_size()));
  if (o.embed_dim() % o.num_heads() != 0)
    throw Error("deit: embed_dim " + std::to_string(o.embed_dim()) + " is not a multiple of num_heads " + std::to_string(o.num_heads()));
  const int64_t grid = o.img_size() / o.patch_size();
  const int64_t prefix_tokens = o.distilled() ? 2 : 1;

  // timm names the conv "patch_embed.proj": a child module "patch_embed" holding "proj".
  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = torch::nn::ModuleHolder<quant::QuantConv2dImpl>(
      quant::QuantConv2dOptions(o.in_chans(), o.embed_dim(), o.patch_size()));
  patch_embed->register_module("proj", patch_proj_);

  cls_token_ = register_parameter("cls_token", torch::zeros({1, 1, o.embed_dim()}));
  if (o.distilled()) dist_token_ = register_parameter("dist_token", torch::zeros({1, 1, o.embed_dim()}));
  pos_embed_ = register_parameter("pos_embed", torch::zeros({1, grid * grid + prefix_tokens, o.embed_dim()}));
  pos_drop_ = register_module("pos_drop", torch::nn::Dropout(o.pos_drop_rate()));

  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) {
    const double drop_path = o.depth() > 1 ? o.drop_path_rate() * i / (o.depth() - 1) : 0.0;
    blocks_->push_back(Block(o, drop_path));
  }
  norm_ = register_module("norm", vit_layer_norm(o.embed_dim()));
  head_drop_ = register_module("head_drop", torch::nn::Dropout(o.drop_rate()));
  head_ = register_module("head", quant::QuantLinear(o.embed_dim(), o.num_classes()));
  if (o.distilled()) head_dist_ = register_module("head_dist", quant::QuantLinear(o.embed_dim(), o.num_classes()));
  init_weights();
}

void DeiTImpl::init_weights() {
  torch::NoGradGuard no_grad;
  init_linears_like_timm(*this);
  trunc_normal_(pos_embed_, 0.02);
  cls_token_.normal_(0.0, 1e-6);
  if (dist_token_.defined()) trunc_normal_(dist_token_, 0.02);
}

torch::Tensor DeiTImpl::forward_features(const torch::Tensor& images) { return norm_(block_tokens(images, 0)); }

torch::Tensor DeiTImpl::head_features(const torch::Tensor& images) {
  return norm_(block_tokens(images, dist_token_.defined() ? 2 : 1));
}

torch::Tensor DeiTImpl::block_tokens(const torch::Tensor& images, int64_t last_queries) {
  const int64_t batch = images.size(0);
  auto x = patch_proj_(images).flatten(2).transpose(1, 2);  // B, N, C
  std::vector<torch::Tensor> tokens{cls_token_.expand({batch, -1, -1})};
  if (dist_token_.defined()) tokens.push_back(dist_token_.expand({batch, -1, -1}));
  tokens.push_back(x);
  x = pos_drop_(torch::cat(tokens, 1) + pos_embed_);
  const size_t depth = blocks_->size();
  for (size_t i = 0; i < depth; ++i) x = blocks_[i]->as<Block>()->forward(x, i + 1 == depth ? last_queries : 0);
  return x;
}

torch::Tensor DeiTImpl::forward_head(const torch::Tensor& features, bool pre_logits) {
  if (!options_.distilled()) {
    const auto pooled = head_drop_(features.select(1, 0));
    return pre_logits ? pooled : head_(pooled);
  }
  if (pre_logits) return (features.select(1, 0) + features.select(1, 1)) / 2;
  const auto [logits, logits_dist] = forward_head_distilled(features);
  return (logits + logits_dist) / 2;
}

std::pair<torch::Tensor, torch::Tensor> DeiTImpl::forward_head_distilled(const torch::Tensor& features) {
  if (!options_.distilled()) throw Error("deit: forward_head_distilled needs a distilled model");
  return {head_(head_drop_(features.select(1, 0))), head_dist_(head_drop_(features.select(1, 1)))};
}

std::vector<std::string> DeiTImpl::classifier_prefixes() const {
  if (options_.distilled()) return {"head.", "head_dist."};
  return {"head."};
}

}  // namespace tervit::models
