#include "tervit/data/mixup.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; }

// timm's rand_bbox (margin 0): cut size int(side * sqrt(1 - lambda)), centre uniform over the image,
// box clipped to the image.
cv::Rect cutmix_box(int64_t height, int64_t width, double lambda, Rng& rng) {
  const double ratio = std::sqrt(1.0 - lambda);
  const auto cut_h = static_cast<int64_t>(static_cast<double>(height) * ratio);
  const auto cut_w = static_cast<int64_t>(static_cast<double>(width) * ratio);
  const int64_t cy = uniform_int(rng, 0, height - 1);
  const int64_t cx = uniform_int(rng, 0, width - 1);
  const int64_t y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, height);
  const int64_t y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, height);
  const int64_t x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, width);
  const int64_t x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, width);
  return {static_cast<int>(x0), static_cast<int>(y0), static_cast<int>(x1 - x0), static_cast<int>(y1 - y0)};
}

}  // namespace

torch::Tensor mixup_target(const torch::Tensor& labels, int64_t num_classes, double lambda, double smoothing) {
  const double off = smoothing / static_cast<double>(num_classes);
  const double on = 1.0 - smoothing + off;
  const torch::Tensor one_hot = torch::full({labels.size(0), num_classes}, off, torch::kFloat)
                                    .scatter_(1, labels.to(torch::kLong).view({-1, 1}), on);
  return one_hot * lambda + one_hot.flip(0) * (1.0 - lambda);
}

void validate_mixup_options(const MixupOptions& options) {
  if (options.mixup_alpha < 0.0 || options.cutmix_alpha < 0.0) throw Error("mixup: alphas must be >= 0");
  if (!is_probability(options.prob) || !is_probability(options.switch_prob)) {
    throw Error("mixup: prob and switch_prob must lie in [0, 1]");
  }
  if (!(options.label_smoothing >= 0.0 && options.label_smoothing < 1.0)) {
    throw Error("mixup: label_smoothing must lie in [0, 1), got " + std::to_string(options.label_smoothing));
  }
  if (options.num_classes < 1) throw Error("mixup: num_classes must be >= 1");
}

MixResult mix_batch(torch::Tensor& images, const torch::Tensor& labels, const MixupOptions& options, Rng& rng) {
  validate_mixup_options(options);
  if (images.dim() != 4 || labels.dim() != 1 || images.size(0) != labels.size(0)) {
    throw Error("mixup: expects images [B, C, H, W] and labels [B] of the same batch size");
  }
  if (images.size(0) % 2 != 0) {
    throw Error("mixup: the batch size must be even (got " + std::to_string(images.size(0)) + "), as timm requires");
  }
  if (labels.numel() > 0 && (labels.min().item<int64_t>() < 0 || labels.max().item<int64_t>() >= options.num_classes)) {
    throw Error("mixup: a label lies outside [0, " + std::to_string(options.num_classes) + ")");
  }
  // timm's _params_per_batch.
  MixResult result;
  const bool mixup_on = options.mixup_alpha > 0.0;
  const bool cutmix_on = options.cutmix_alpha > 0.0;
  if ((mixup_on || cutmix_on) && bernoulli(rng, options.prob)) {
    result.cutmix = cutmix_on && (!mixup_on || bernoulli(rng, options.switch_prob));
    const double alpha = result.cutmix ? options.cutmix_alpha : options.mixup_alpha;
    result.lambda = beta(rng, alpha, alpha);
  }
  // timm's _mix_batch.
  if (result.lambda < 1.0) {
    if (result.cutmix) {
      const int64_t height = images.size(2);
      const int64_t width = images.size(3);
      result.box = cutmix_box(height, width, result.lambda, rng);
      using torch::indexing::Slice;
      const auto rows = Slice(result.box.y, result.box.y + result.box.height);
      const auto cols = Slice(result.box.x, result.box.x + result.box.width);
      const torch::Tensor pasted = images.flip(0).index({Slice(), Slice(), rows, cols});  // flip copies
      images.index({Slice(), Slice(), rows, cols}).copy_(pasted);
      if (options.correct_lam) result.lambda = 1.0 - static_cast<double>(result.box.area()) / static_cast<double>(height * width);
    } else {
      const torch::Tensor flipped = images.flip(0).mul_(1.0 - result.lambda);
      images.mul_(result.lambda).add_(flipped);
    }
  } else {
    result.lambda = 1.0;
    result.cutmix = false;
  }
  result.targets = mixup_target(labels, options.num_classes, result.lambda, options.label_smoothing);
  return result;
}

}  // namespace tervit::data
