#pragma once
// timm's RandomErasing, applied to the normalized [3, H, W] tensor after Normalize (DeiT: probability
// 0.25, mode 'pixel'): with the given probability, `count` rectangles of area U(min_area, max_area) *
// H * W / count and log-uniform aspect ratio (min_aspect .. 1 / min_aspect) are filled with noise.
#include <torch/torch.h>

#include "tervit/data/random.h"
#include "tervit/core/name_table.h"

namespace tervit::data {

enum class ErasingMode {
  kConst,  // zeros (the normalized mean)
  kRand,   // one normal value per channel
  kPixel,  // one normal value per pixel and channel
};

struct RandomErasingOptions {
  double probability = 0.0;  // 0 disables
  ErasingMode mode = ErasingMode::kPixel;
  double min_area = 0.02;
  double max_area = 1.0 / 3.0;
  double min_aspect = 0.3;
  int max_count = 1;  // count ~ U{1..max_count}
};

// "const", "rand" and "pixel", as timm names them.
const NameTable<ErasingMode>& erasing_mode_names();

// Erases in place; a rectangle is retried up to 10 times until it fits strictly inside the image
// (timm's w < W and h < H), else skipped. Throws tervit::Error for a tensor that is not [C, H, W] float.
void random_erasing(torch::Tensor& chw, const RandomErasingOptions& options, Rng& rng);

}  // namespace tervit::data
