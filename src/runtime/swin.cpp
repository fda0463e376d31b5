// Swin (models/swin.h) for the runtime: patch embedding with norm, stages of (shifted) window attention with
// a relative position bias, patch merging between stages, final norm, average pool, head.fc. Feature maps
// are H x W x C row-major, as the NHWC tensors of the LibTorch model.
#include <algorithm>
#include <utility>
#include <vector>

#include "src/runtime/network_builders.h"
#include "src/runtime/transformer_parts.h"
#include "tervit/core/error.h"
#include "tervit/kernels/float_ops.h"

namespace tervit::runtime {

namespace {

constexpr float kSwinNormEps = 1e-5f;
// Tokens per pass of qkv and attention, in whole windows: the first stage's qkv for all its tokens took
// 3.6 MB; passes of about 512 tokens (as the MLP's) take 0.6 MB and still split over the threads by token.
constexpr int64_t kAttentionTokensPerPass = 512;

struct SwinBlock {
  int64_t window = 0, shift = 0;
  Norm norm1, norm2;
  Linear qkv, proj;
  std::vector<float> bias;            // heads x N x N: the relative position bias, gathered once
  std::vector<int64_t> window_order;  // window token -> position in the (unshifted) feature map
  std::vector<int> region;            // window token -> shifted-window region (empty without a shift)
  Mlp mlp;
};

struct SwinStage {
  int64_t dim = 0, resolution = 0, heads = 0;
  bool merges = false;  // starts with patch merging (every stage but the first)
  Norm merge_norm;
  Linear reduction;
  std::vector<SwinBlock> blocks;
};

// The order in which window attention visits the feature map: window by window (row-major), each window's
// tokens row-major, after rolling the map by -shift on both axes (torch::roll), as the models partition it.
std::vector<int64_t> window_order(int64_t resolution, int64_t window, int64_t shift) {
  std::vector<int64_t> order;
  const int64_t per_side = resolution / window;
  for (int64_t wy = 0; wy < per_side; ++wy)
    for (int64_t wx = 0; wx < per_side; ++wx)
      for (int64_t y = 0; y < window; ++y)
        for (int64_t x = 0; x < window; ++x) {
          const int64_t row = (wy * window + y + shift) % resolution, col = (wx * window + x + shift) % resolution;
          order.push_back(row * resolution + col);
        }
  return order;
}

// The region of each window token in the shifted map (the models' shifted_window_mask): 3 x 3 spans.
std::vector<int> shift_regions(int64_t resolution, int64_t window, int64_t shift) {
  const auto span = [&](int64_t i) { return i < resolution - window ? 0 : (i < resolution - shift ? 1 : 2); };
  std::vector<int> regions;
  const int64_t per_side = resolution / window;
  for (int64_t wy = 0; wy < per_side; ++wy)
    for (int64_t wx = 0; wx < per_side; ++wx)
      for (int64_t y = 0; y < window; ++y)
        for (int64_t x = 0; x < window; ++x) regions.push_back(static_cast<int>(3 * span(wy * window + y) + span(wx * window + x)));
  return regions;
}

// The table's rows for every pair of window positions, laid out heads x N x N.
std::vector<float> relative_position_bias(const std::vector<float>& table, int64_t window, int64_t heads) {
  const int64_t n = window * window, side = 2 * window - 1;
  std::vector<float> bias(static_cast<size_t>(heads * n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const int64_t row = (i / window - j / window + window - 1) * side + (i % window - j % window + window - 1);
      for (int64_t h = 0; h < heads; ++h) bias[(h * n + i) * n + j] = table[row * heads + h];
    }
  return bias;
}

class Swin : public Network {
 public:
  Swin(const Architecture& a, WeightFile& file, kernels::PackedBits bits, kernels::PackedMode mode, kernels::AttentionKernel attention)
      : a_(a), mode_(mode), attention_(attention) {
    patch_ = file.take_linear("patch_embed.proj", {a.embed_dim, a.in_chans, a.patch_size, a.patch_size}, true, bits);
    patch_norm_ = take_norm(file, "patch_embed.norm", a.embed_dim, kSwinNormEps);
    for (size_t s = 0; s < a.depths.size(); ++s) {
      SwinStage stage;
      stage.dim = a.embed_dim << s;
      stage.resolution = (a.img_size / a.patch_size) >> s;
      stage.heads = a.stage_heads[s];
      const std::string p = "layers." + std::to_string(s);
      if (s > 0) {
        stage.merges = true;
        stage.merge_norm = take_norm(file, p + ".downsample.norm", 2 * stage.dim, kSwinNormEps);
        stage.reduction = file.take_linear(p + ".downsample.reduction", {stage.dim, 2 * stage.dim}, false, bits);
      }
      for (int64_t i = 0; i < a.depths[s]; ++i) stage.blocks.push_back(take_block(file, p + ".blocks." + std::to_string(i), stage, i, bits));
      stages_.push_back(std::move(stage));
    }
    const int64_t features = a.embed_dim << (a.depths.size() - 1);
    norm_ = take_norm(file, "norm", features, kSwinNormEps);
    head_ = file.take_linear("head.fc", {a.num_classes, features}, true, bits);
  }

  void forward(const float* image, float* logits) const override {
    // Every buffer is written whole before it is read. They are kept from one image to the next: fresh
    // megabytes on each call cost page faults and zero-fills (5% of a batch-1 forward). `staging` holds the
    // unfolded patches, then each merge's neighbourhoods; `windowed` a block's input after its norm1, in its
    // window order (at the end, the final norm's output); `spare` a block's other rows; `qkv` its qkv rows,
    // then the MLP's hidden layer (the two never live at once).
    thread_local ScratchVector<float> x, staging, windowed, spare, qkv;
    embed(image, staging, x);
    for (size_t s = 0; s < stages_.size(); ++s) {
      const auto& stage = stages_[s];
      if (stage.merges) merge(stage, staging, x);
      windowed.resize(x.size());
      spare.resize(x.size());
      const int64_t tokens = stage.resolution * stage.resolution;
      const SwinBlock& first = stage.blocks.front();
      first.norm1.residual_forward({x.data(), first.window_order.data()}, {}, tokens, {windowed.data()});
      for (size_t i = 0; i < stage.blocks.size(); ++i) {
        // Each block's last residual sum goes with the LayerNorm after it: the next block's norm1, or the
        // final norm after the last stage (a merge reads the sum itself).
        NextNorm next;
        if (i + 1 < stage.blocks.size())
          next = {&stage.blocks[i + 1].norm1, stage.blocks[i + 1].window_order.data()};
        else if (s + 1 == stages_.size())
          next = {&norm_, nullptr};
        run_block(stage, stage.blocks[i], next, x, windowed, spare, qkv);
      }
    }
    const int64_t features = norm_.dim(), tokens = stages_.back().resolution * stages_.back().resolution;
    std::vector<float> pooled(static_cast<size_t>(features), 0.0f);
    for (int64_t t = 0; t < tokens; ++t) kernels::add(windowed.data() + t * features, features, pooled.data());
    for (float& v : pooled) v /= static_cast<float>(tokens);
    head_.forward(pooled.data(), 1, logits, mode_);
  }

 private:
  SwinBlock take_block(WeightFile& file, const std::string& p, const SwinStage& stage, int64_t index, kernels::PackedBits bits) {
    SwinBlock block;
    // As the models: a feature map no larger than the window is one window, and shifting it means nothing.
    block.window = std::min(a_.window_size, stage.resolution);
    block.shift = stage.resolution <= a_.window_size || index % 2 == 0 ? 0 : a_.window_size / 2;
    if (stage.resolution % block.window != 0)
      throw Error(file.source() + ": swin feature map side " + std::to_string(stage.resolution) + " is not a multiple of window_size " +
                  std::to_string(block.window));
    const int64_t dim = stage.dim, side = 2 * block.window - 1;
    block.norm1 = take_norm(file, p + ".norm1", dim, kSwinNormEps);
    const auto table = file.take_floats(p + ".attn.relative_position_bias_table", {side * side, stage.heads});
    block.bias = relative_position_bias(table, block.window, stage.heads);
    block.qkv = file.take_linear(p + ".attn.qkv", {3 * dim, dim}, a_.qkv_bias, bits);
    block.proj = file.take_linear(p + ".attn.proj", {dim, dim}, true, bits);
    block.norm2 = take_norm(file, p + ".norm2", dim, kSwinNormEps);
    block.mlp = take_mlp(file, p + ".mlp", dim, a_.hidden(dim), bits);
    block.window_order = window_order(stage.resolution, block.window, block.shift);
    if (block.shift > 0) block.region = shift_regions(stage.resolution, block.window, block.shift);
    return block;
  }

  // The patch conv as a matrix over unfolded patches, then its norm, into x: grid x grid x embed_dim.
  void embed(const float* image, ScratchVector<float>& unfolded, ScratchVector<float>& x) const {
    const int64_t grid = a_.img_size / a_.patch_size, patches = grid * grid;
    unfold_patches(image, a_.in_chans, a_.img_size, a_.patch_size, unfolded);
    x.resize(static_cast<size_t>(patches * a_.embed_dim));
    patch_.forward(unfolded.data(), patches, x.data(), mode_);
    patch_norm_.forward(x.data(), patches, x.data());
  }

  // 2 x 2 neighbourhoods to channels in the models' order ((0,0), (1,0), (0,1), (1,1) as (row, col)
  // offsets) in `merged`, norm, reduction back into x.
  void merge(const SwinStage& stage, ScratchVector<float>& merged, ScratchVector<float>& x) const {
    const int64_t half = stage.resolution, in_side = 2 * half, in_dim = stage.dim / 2, tokens = half * half;
    merged.resize(static_cast<size_t>(tokens * 4 * in_dim));
    for (int64_t y = 0; y < half; ++y)
      for (int64_t xx = 0; xx < half; ++xx)
        for (int64_t k = 0; k < 4; ++k) {
          const int64_t row = 2 * y + k % 2, col = 2 * xx + k / 2;
          const float* from = x.data() + (row * in_side + col) * in_dim;
          std::copy(from, from + in_dim, merged.data() + ((y * half + xx) * 4 + k) * in_dim);
        }
    stage.merge_norm.forward(merged.data(), tokens, merged.data());
    x.resize(static_cast<size_t>(tokens * stage.dim));
    stage.reduction.forward(merged.data(), tokens, x.data(), mode_);
  }

  // The LayerNorm that follows a block (none before a merge) and the window order it writes in (null:
  // the feature map's).
  struct NextNorm {
    const Norm* norm = nullptr;
    const int64_t* order = nullptr;
  };

  // On entry `windowed` holds the block's norm1 in its window order; on return, with a next norm, that
  // norm's output (spare and windowed trade places). The residual sums go with the LayerNorms after them,
  // through the window order (a permutation: no two tokens write the same row, so they are threaded).
  void run_block(const SwinStage& stage, const SwinBlock& block, NextNorm next, ScratchVector<float>& x, ScratchVector<float>& windowed,
                 ScratchVector<float>& spare, ScratchVector<float>& qkv) const {
    const int64_t dim = stage.dim, tokens = stage.resolution * stage.resolution, n = block.window * block.window;
    const int64_t windows_per_pass = std::max<int64_t>(1, kAttentionTokensPerPass / n), window_count = tokens / n;
    qkv.resize(static_cast<size_t>(std::min(windows_per_pass, window_count) * n * 3 * dim));
    for (int64_t first = 0; first < window_count; first += windows_per_pass) {
      const int64_t count = std::min(windows_per_pass, window_count - first), offset = first * n;
      block.qkv.forward(windowed.data() + offset * dim, count * n, qkv.data(), mode_);
      multi_head_attention(qkv.data(), count, n, stage.heads, dim, block.bias.data(),
                           block.region.empty() ? nullptr : block.region.data() + offset, attention_, spare.data() + offset * dim);
    }
    block.proj.forward(spare.data(), tokens, windowed.data(), mode_);
    const int64_t* order = block.window_order.data();
    block.norm2.residual_forward({x.data(), order}, {windowed.data()}, tokens, {spare.data(), order});
    block.mlp.forward(spare.data(), tokens, windowed.data(), qkv, mode_);
    if (next.norm == nullptr) {
      kernels::add(windowed.data(), tokens * dim, x.data());
      return;
    }
    next.norm->residual_forward({x.data(), next.order}, {windowed.data(), next.order}, tokens, {spare.data()});
    std::swap(windowed, spare);
  }

  Architecture a_;
  kernels::PackedMode mode_;
  kernels::AttentionKernel attention_;
  Linear patch_, head_;
  Norm patch_norm_, norm_;
  std::vector<SwinStage> stages_;
};

}  // namespace

std::unique_ptr<Network> build_swin(const Architecture& architecture, WeightFile& file, kernels::PackedBits bits,
                                    kernels::PackedMode mode, kernels::AttentionKernel attention) {
  return std::make_unique<Swin>(architecture, file, bits, mode, attention);
}

}  // namespace tervit::runtime
