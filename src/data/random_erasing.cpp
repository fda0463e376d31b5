#include "tervit/data/random_erasing.h"

#include <cmath>
#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

// The fill of one h x w rectangle, drawn from rng so that erasing stays seeded.
torch::Tensor erasing_fill(ErasingMode mode, int64_t channels, int64_t h, int64_t w, Rng& rng) {
  if (mode == ErasingMode::kConst) return torch::zeros({channels, 1, 1});
  const int64_t count = mode == ErasingMode::kPixel ? channels * h * w : channels;
  torch::Tensor fill = torch::empty({count});
  float* values = fill.data_ptr<float>();
  for (int64_t i = 0; i < count; ++i) values[i] = static_cast<float>(normal(rng));
  return mode == ErasingMode::kPixel ? fill.view({channels, h, w}) : fill.view({channels, 1, 1});
}

}  // namespace

const NameTable<ErasingMode>& erasing_mode_names() {
  static const NameTable<ErasingMode> table{{"const", ErasingMode::kConst}, {"rand", ErasingMode::kRand}, {"pixel", ErasingMode::kPixel}};
  return table;
}

void random_erasing(torch::Tensor& chw, const RandomErasingOptions& options, Rng& rng) {
  if (chw.dim() != 3 || chw.scalar_type() != torch::kFloat) {
    throw Error("random erasing: expects a float [C, H, W] tensor");
  }
  if (options.max_count < 1) throw Error("random erasing: max_count must be >= 1");
  if (!bernoulli(rng, options.probability)) return;
  const int64_t channels = chw.size(0);
  const int64_t height = chw.size(1);
  const int64_t width = chw.size(2);
  const double area = static_cast<double>(height * width);
  const int count = options.max_count == 1 ? 1 : static_cast<int>(uniform_int(rng, 1, options.max_count));
  const double log_aspect_min = std::log(options.min_aspect);
  const double log_aspect_max = std::log(1.0 / options.min_aspect);
  for (int erased = 0; erased < count; ++erased) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double target_area = uniform(rng, options.min_area, options.max_area) * area / count;
      const double aspect_ratio = std::exp(uniform(rng, log_aspect_min, log_aspect_max));
      const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area * aspect_ratio)));
      const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target_area / aspect_ratio)));
      if (w < width && h < height) {
        const int64_t top = uniform_int(rng, 0, height - h);
        const int64_t left = uniform_int(rng, 0, width - w);
        using torch::indexing::Slice;
        chw.index({Slice(), Slice(top, top + h), Slice(left, left + w)}).copy_(erasing_fill(options.mode, channels, h, w, rng));
        break;
      }
    }
  }
}

}  // namespace tervit::data
