#include "models/swin.h"

#include <numeric>

#include "tervit/core/error.h"

namespace tervit::models {

torch::Tensor window_partition(const torch::Tensor& x, int64_t ws) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  return x.view({b, h / ws, ws, w / ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, ws * ws, c});
}

torch::Tensor relative_position_index(int64_t ws) {
  const auto coords = torch::stack(torch::meshgrid({torch::arange(ws), torch::arange(ws)}, "ij")).flatten(1);  // 2, N
  auto relative = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}) + (ws - 1);  // N, N, 2
  return relative.select(2, 0) * (2 * ws - 1) + relative.select(2, 1);
}

torch::Tensor shifted_window_mask(int64_t resolution, int64_t ws, int64_t shift) {
  auto regions = torch::zeros({1, resolution, resolution, 1});
  const std::vector<std::pair<int64_t, int64_t>> spans{
      {0, resolution - ws}, {resolution - ws, resolution - shift}, {resolution - shift, resolution}};
  float label = 0;
  for (const auto& [h0, h1] : spans) {
    for (const auto& [w0, w1] : spans) {
      regions.slice(1, h0, h1).slice(2, w0, w1).fill_(label);
      label += 1;
    }
  }
  const auto windows = window_partition(regions, ws).squeeze(-1);  // nW, N
  const auto differs = windows.unsqueeze(1) != windows.unsqueeze(2);
  return torch::zeros(differs.sizes()).masked_fill(differs, -100.0);
}

torch::Tensor merge_neighbourhoods(const torch::Tensor& x) {
  const int64_t b = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  return x.reshape({b, h / 2, 2, w / 2, 2, c}).permute({0, 1, 3, 4, 2, 5}).flatten(3);
}

namespace {

// Inverse of window_partition.
torch::Tensor window_reverse(const torch::Tensor& windows, int64_t ws, int64_t h, int64_t w) {
  const int64_t c = windows.size(-1);
  return windows.view({-1, h / ws, w / ws, ws, ws, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, h, w, c});
}

torch::nn::LayerNorm swin_layer_norm(int64_t dim) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})); }

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

const torch::Tensor& DeviceTensor::on(const torch::Device& device) {
  if (value_.device() != device) value_ = value_.to(device);
  return value_;
}

WindowAttentionImpl::WindowAttentionImpl(int64_t dim, int64_t num_heads, int64_t window_size, bool qkv_bias,
                                         double attn_drop, double proj_drop)
    : num_heads_(num_heads), window_area_(window_size * window_size),
      relative_position_index_(relative_position_index(window_size).flatten()) {
  relative_position_bias_table_ = register_parameter(
      "relative_position_bias_table", torch::zeros({(2 * window_size - 1) * (2 * window_size - 1), num_heads}));
  trunc_normal_(relative_position_bias_table_, 0.02);
  qkv_ = register_module("qkv", quant::QuantLinear(quant::QuantLinearOptions(dim, 3 * dim).bias(qkv_bias)));
  attn_drop_ = register_module("attn_drop", torch::nn::Dropout(attn_drop));
  proj_ = register_module("proj", quant::QuantLinear(dim, dim));
  proj_drop_ = register_module("proj_drop", torch::nn::Dropout(proj_drop));
}

torch::Tensor WindowAttentionImpl::relative_position_bias(const torch::Device& device) {
  const auto& index = relative_position_index_.on(device);
  return relative_position_bias_table_.index_select(0, index)
      .view({window_area_, window_area_, num_heads_})
      .permute({2, 0, 1})
      .unsqueeze(0);  // 1, heads, N, N
}

torch::Tensor WindowAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto bias = relative_position_bias(x.device());  // 1, heads, N, N
  // With the shift mask (nW, N, N), window w of an image takes the mask of its position, w % nW.
  if (mask.defined()) bias = bias + mask.unsqueeze(1);  // nW, heads, N, N
  return proj_drop_(proj_(qkv_attention(qkv_(x), num_heads_, bias, attn_drop_)));
}

SwinBlockImpl::SwinBlockImpl(const SwinBlockOptions& o) : window_size_(o.window_size), shift_size_(o.shift_size) {
  // As timm: a feature map no larger than the window is one window, and shifting it means nothing.
  if (o.resolution <= window_size_) {
    window_size_ = o.resolution;
    shift_size_ = 0;
  }
  if (o.resolution % window_size_ != 0)
    throw Error("swin: feature map side " + str(o.resolution) + " is not a multiple of window_size " + str(window_size_));
  if (shift_size_ > 0) attn_mask_ = DeviceTensor(shifted_window_mask(o.resolution, window_size_, shift_size_));

  norm1_ = register_module("norm1", swin_layer_norm(o.dim));
  attn_ = register_module("attn", WindowAttention(o.dim, o.num_heads, window_size_, o.qkv_bias, o.attn_drop, o.drop));
  norm2_ = register_module("norm2", swin_layer_norm(o.dim));
  mlp_ = register_module("mlp", Mlp(MlpOptions(o.dim, static_cast<int64_t>(o.dim * o.mlp_ratio)).drop(o.drop)));
  drop_path_ = register_module("drop_path", DropPath(o.drop_path));
}

torch::Tensor SwinBlockImpl::windowed_attention(const torch::Tensor& x) {
  const int64_t h = x.size(1), w = x.size(2);
  const auto shifted = shift_size_ > 0 ? torch::roll(x, {-shift_size_, -shift_size_}, {1, 2}) : x;
  const auto mask = attn_mask_.defined() ? attn_mask_.on(x.device()) : torch::Tensor();
  const auto attended = window_reverse(attn_(window_partition(shifted, window_size_), mask), window_size_, h, w);
  return shift_size_ > 0 ? torch::roll(attended, {shift_size_, shift_size_}, {1, 2}) : attended;
}

torch::Tensor SwinBlockImpl::forward(const torch::Tensor& x) {
  auto y = x + drop_path_(windowed_attention(norm1_(x)));
  return y + drop_path_(mlp_(norm2_(y)));
}

PatchMergingImpl::PatchMergingImpl(int64_t dim) {
  norm_ = register_module("norm", swin_layer_norm(4 * dim));
  reduction_ = register_module("reduction", quant::QuantLinear(quant::QuantLinearOptions(4 * dim, 2 * dim).bias(false)));
}

torch::Tensor PatchMergingImpl::forward(const torch::Tensor& x) {
  return reduction_(norm_(merge_neighbourhoods(x)));
}

SwinStageImpl::SwinStageImpl(const SwinOptions& o, int64_t stage, const std::vector<double>& drop_paths) {
  const int64_t dim = o.embed_dim() << stage;
  const int64_t resolution = (o.img_size() / o.patch_size()) >> stage;
  if (stage > 0) downsample_ = register_module("downsample", PatchMerging(dim / 2));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < o.depths()[stage]; ++i) {
    SwinBlockOptions block;
    block.dim = dim;
    block.resolution = resolution;
    block.num_heads = o.num_heads()[stage];
    block.window_size = o.window_size();
    block.shift_size = i % 2 == 0 ? 0 : o.window_size() / 2;
    block.mlp_ratio = o.mlp_ratio();
    block.qkv_bias = o.qkv_bias();
    block.drop = o.drop_rate();
    block.attn_drop = o.attn_drop_rate();
    block.drop_path = drop_paths[i];
    blocks_->push_back(SwinBlock(block));
  }
}

torch::Tensor SwinStageImpl::forward(torch::Tensor x) {
  if (downsample_) x = downsample_(x);
  for (auto& block : *blocks_) x = block->as<SwinBlock>()->forward(x);
  return x;
}

SwinImpl::SwinImpl(const SwinOptions& o) : options_(o) {
  const auto num_stages = static_cast<int64_t>(o.depths().size());
  if (num_stages == 0 || o.num_heads().size() != o.depths().size())
    throw Error("swin: depths and num_heads must be non-empty and of equal length");
  if (o.img_size() % o.patch_size() != 0)
    throw Error("swin: img_size " + str(o.img_size()) + " is not a multiple of patch_size " + str(o.patch_size()));
  const int64_t grid = o.img_size() / o.patch_size();
  if (grid % (int64_t{1} << (num_stages - 1)) != 0)
    throw Error("swin: patch grid " + str(grid) + " cannot be halved " + str(num_stages - 1) + " times by patch merging");
  for (int64_t s = 0; s < num_stages; ++s) {
    if ((o.embed_dim() << s) % o.num_heads()[s] != 0)
      throw Error("swin: stage " + str(s) + " dim " + str(o.embed_dim() << s) + " is not a multiple of its heads " + str(o.num_heads()[s]));
  }

  auto patch_embed = register_module("patch_embed", std::make_shared<torch::nn::Module>());
  patch_proj_ = torch::nn::ModuleHolder<quant::QuantConv2dImpl>(
      quant::QuantConv2dOptions(o.in_chans(), o.embed_dim(), o.patch_size()));
  patch_embed->register_module("proj", patch_proj_);
  patch_norm_ = torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.embed_dim()}));
  patch_embed->register_module("norm", patch_norm_);

  const int64_t total_blocks = std::accumulate(o.depths().begin(), o.depths().end(), int64_t{0});
  layers_ = register_module("layers", torch::nn::ModuleList());
  int64_t block_index = 0;
  for (int64_t s = 0; s < num_stages; ++s) {
    std::vector<double> drop_paths;
    for (int64_t i = 0; i < o.depths()[s]; ++i, ++block_index)
      drop_paths.push_back(total_blocks > 1 ? o.drop_path_rate() * block_index / (total_blocks - 1) : 0.0);
    layers_->push_back(SwinStage(o, s, drop_paths));
  }
  const int64_t num_features = o.embed_dim() << (num_stages - 1);
  norm_ = register_module("norm", swin_layer_norm(num_features));
  auto head = register_module("head", std::make_shared<torch::nn::Module>());
  head_drop_ = torch::nn::Dropout(o.drop_rate());
  head->register_module("drop", head_drop_);
  head_fc_ = quant::QuantLinear(num_features, o.num_classes());
  head->register_module("fc", head_fc_);
  init_linears_like_timm(*this);
}

torch::Tensor SwinImpl::forward_features(const torch::Tensor& images) {
  auto x = patch_norm_(patch_proj_(images).permute({0, 2, 3, 1}));  // NHWC
  for (auto& stage : *layers_) x = stage->as<SwinStage>()->forward(x);
  return norm_(x);
}

torch::Tensor SwinImpl::forward_head(const torch::Tensor& features, bool pre_logits) {
  const auto pooled = features.mean({1, 2});
  return pre_logits ? pooled : head_fc_(head_drop_(pooled));
}

}  // namespace tervit::models
