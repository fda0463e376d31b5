// DeiT / ViT (models/deit.h) for the runtime: patch embedding as a matrix over unfolded patches, class (and
// distillation) token, position embedding, pre-norm blocks, final norm, head(s) on the prefix tokens.
#include <utility>
#include <vector>

#include "src/runtime/network_builders.h"
#include "src/runtime/transformer_parts.h"
#include "tervit/kernels/float_ops.h"

namespace tervit::runtime {

namespace {

constexpr float kViTNormEps = 1e-6f;  // timm's ViT LayerNorms

struct DeiTBlock {
  Norm norm1, norm2;
  Linear qkv, proj;
  Mlp mlp;
};

class DeiT : public Network {
 public:
  DeiT(const Architecture& a, WeightFile& file, kernels::PackedBits bits, kernels::PackedMode mode, kernels::AttentionKernel attention)
      : a_(a), mode_(mode), attention_(attention), grid_(a.img_size / a.patch_size), prefix_(a.distilled ? 2 : 1) {
    const int64_t dim = a.embed_dim, tokens = grid_ * grid_ + prefix_;
    patch_ = file.take_linear("patch_embed.proj", {dim, a.in_chans, a.patch_size, a.patch_size}, /*bias=*/true, bits);
    cls_token_ = file.take_floats("cls_token", {1, 1, dim});
    if (a.distilled) dist_token_ = file.take_floats("dist_token", {1, 1, dim});
    pos_embed_ = file.take_floats("pos_embed", {1, tokens, dim});
    for (int64_t i = 0; i < a.depth; ++i) {
      const std::string p = "blocks." + std::to_string(i);
      DeiTBlock block;
      block.norm1 = take_norm(file, p + ".norm1", dim, kViTNormEps);
      block.qkv = file.take_linear(p + ".attn.qkv", {3 * dim, dim}, a.qkv_bias, bits);
      block.proj = file.take_linear(p + ".attn.proj", {dim, dim}, /*bias=*/true, bits);
      block.norm2 = take_norm(file, p + ".norm2", dim, kViTNormEps);
      block.mlp = take_mlp(file, p + ".mlp", dim, a.hidden(dim), bits);
      blocks_.push_back(std::move(block));
    }
    norm_ = take_norm(file, "norm", dim, kViTNormEps);
    head_ = file.take_linear("head", {a.num_classes, dim}, /*bias=*/true, bits);
    if (a.distilled) head_dist_ = file.take_linear("head_dist", {a.num_classes, dim}, /*bias=*/true, bits);
  }

  void forward(const float* image, float* logits) const override {
    const int64_t dim = a_.embed_dim, patches = grid_ * grid_, tokens = patches + prefix_;
    // Every buffer is written whole before it is read. They are kept from one image to the next: fresh
    // megabytes on each call cost page faults and zero-fills (3% of a batch-1 forward). The unfolded patches
    // and the MLP's hidden layer reuse qkv's (none of the three lives at once), so qkv is sized again in
    // each block.
    thread_local ScratchVector<float> x, normed, qkv, attended, out;
    for (auto* buffer : {&x, &normed, &attended, &out}) buffer->resize(static_cast<size_t>(tokens * dim));
    embed(image, qkv, x.data());
    blocks_.front().norm1.forward(x.data(), tokens, normed.data());
    for (size_t i = 0; i < blocks_.size(); ++i) {
      const auto& block = blocks_[i];
      const bool last = i + 1 == blocks_.size();
      // Only the prefix tokens reach the head(s): after the last block's keys and values, the rest of it runs
      // on them alone (a token's outputs depend on the others only through attention). Its rows are the ones
      // a full pass would give.
      const int64_t rows = last ? prefix_ : tokens;
      qkv.resize(static_cast<size_t>(tokens * 3 * dim));
      block.qkv.forward(normed.data(), tokens, qkv.data(), mode_);
      multi_head_attention(qkv.data(), 1, tokens, a_.num_heads, dim, nullptr, nullptr, attention_, attended.data(), rows);
      block.proj.forward(attended.data(), rows, out.data(), mode_);
      // Each residual sum goes with the LayerNorm after it: norm2, then the next block's norm1 or the final norm.
      block.norm2.residual_forward({x.data()}, {out.data()}, rows, {normed.data()});
      block.mlp.forward(normed.data(), rows, out.data(), qkv, mode_);
      (last ? norm_ : blocks_[i + 1].norm1).residual_forward({x.data()}, {out.data()}, rows, {normed.data()});
    }
    head_.forward(normed.data(), 1, logits, mode_);
    if (a_.distilled) {
      std::vector<float> logits_dist(static_cast<size_t>(a_.num_classes));
      head_dist_.forward(normed.data() + dim, 1, logits_dist.data(), mode_);
      for (int64_t c = 0; c < a_.num_classes; ++c) logits[c] = (logits[c] + logits_dist[c]) / 2;
    }
  }

 private:
  // Patch tokens (the conv as a matrix over each patch's C x p x p values, in the weight's order) after
  // the prefix tokens, plus the position embedding. `unfolded` holds the patches' values on the way.
  void embed(const float* image, ScratchVector<float>& unfolded, float* x) const {
    const int64_t dim = a_.embed_dim, patches = grid_ * grid_;
    unfold_patches(image, a_.in_chans, a_.img_size, a_.patch_size, unfolded);
    patch_.forward(unfolded.data(), patches, x + prefix_ * dim, mode_);
    std::copy(cls_token_.begin(), cls_token_.end(), x);
    if (a_.distilled) std::copy(dist_token_.begin(), dist_token_.end(), x + dim);
    kernels::add(pos_embed_.data(), (patches + prefix_) * dim, x);
  }

  Architecture a_;
  kernels::PackedMode mode_;
  kernels::AttentionKernel attention_;
  int64_t grid_, prefix_;
  Linear patch_, head_, head_dist_;
  std::vector<float> cls_token_, dist_token_, pos_embed_;
  std::vector<DeiTBlock> blocks_;
  Norm norm_;
};

}  // namespace

std::unique_ptr<Network> build_deit(const Architecture& architecture, WeightFile& file, kernels::PackedBits bits,
                                    kernels::PackedMode mode, kernels::AttentionKernel attention) {
  return std::make_unique<DeiT>(architecture, file, bits, mode, attention);
}

}  // namespace tervit::runtime
