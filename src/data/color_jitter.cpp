#include "tervit/data/color_jitter.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "tervit/core/error.h"
#include "tervit/data/pil_enhance.h"

namespace tervit::data {

void color_jitter(cv::Mat& rgb8, const ColorJitterOptions& options, Rng& rng) {
  using Adjustment = void (*)(cv::Mat&, double);
  const std::array<std::pair<double, Adjustment>, 3> adjustments{{{options.brightness, adjust_brightness},
                                                                   {options.contrast, adjust_contrast},
                                                                   {options.saturation, adjust_saturation}}};
  std::array<double, 3> factors{};
  for (size_t i = 0; i < adjustments.size(); ++i) {
    const double strength = adjustments[i].first;
    if (strength < 0.0) throw Error("color jitter: strengths must be >= 0, got " + std::to_string(strength));
    factors[i] = strength > 0.0 ? uniform(rng, std::max(0.0, 1.0 - strength), 1.0 + strength) : 1.0;
  }
  std::array<size_t, 3> order{0, 1, 2};
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[uniform_int(rng, 0, static_cast<int64_t>(i))]);
  for (const size_t i : order) {
    if (adjustments[i].first > 0.0) adjustments[i].second(rgb8, factors[i]);
  }
}

}  // namespace tervit::data
