#pragma once
// timm's Mixup/CutMix in 'batch' mode, applied to a collated batch: one lambda per batch, each image
// mixed with its mirror in the batch (x.flip(0)), and soft targets with label smoothing, as DeiT and
// Swin train (mixup alpha 0.8, cutmix alpha 1.0, switch probability 0.5, smoothing 0.1).
#include <torch/torch.h>

#include <opencv2/core.hpp>

#include "tervit/data/random.h"

namespace tervit::data {

struct MixupOptions {
  double mixup_alpha = 0.8;   // Beta(alpha, alpha) for mixup; 0 disables mixup
  double cutmix_alpha = 1.0;  // Beta(alpha, alpha) for cutmix; 0 disables cutmix
  double prob = 1.0;          // probability of mixing a batch at all
  double switch_prob = 0.5;   // probability of cutmix when both are enabled
  double label_smoothing = 0.1;
  bool correct_lam = true;  // lambda = 1 - clipped box area / image area, as timm
  int64_t num_classes = 1000;
};

struct MixResult {
  torch::Tensor targets;  // float [B, num_classes], each row sums to 1
  double lambda = 1.0;    // weight of the batch's own images (after the cutmix area correction)
  bool cutmix = false;
  cv::Rect box;  // the pasted rectangle for cutmix (x, y, w, h), empty otherwise
};

// timm's mixup_target: one-hot with off = smoothing / num_classes and on = 1 - smoothing + off,
// mixed as lambda * y + (1 - lambda) * y.flip(0).
torch::Tensor mixup_target(const torch::Tensor& labels, int64_t num_classes, double lambda, double smoothing);

// Throws tervit::Error for negative alphas, probabilities outside [0, 1], smoothing outside [0, 1) or
// num_classes < 1.
void validate_mixup_options(const MixupOptions& options);

// Mixes images (float [B, C, H, W], in place) and returns the soft targets for labels (int64 [B]).
// Throws tervit::Error for an odd batch (timm requires an even one), mismatched sizes, a label outside
// [0, num_classes), or invalid options.
MixResult mix_batch(torch::Tensor& images, const torch::Tensor& labels, const MixupOptions& options, Rng& rng);

}  // namespace tervit::data
