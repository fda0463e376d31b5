#include "tervit/data/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tervit/core/error.h"

// Follows Pillow's libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResample{Horizontal,Vertical}_8bpc) and Geometry.c (ImagingScaleAffine for NEAREST): every
// floating-point expression keeps PIL's order of operations so that the selected source pixels and the
// fixed-point weights, hence the output bytes, are identical.
namespace tervit::data {
namespace {

// Fixed-point weights: 8 bits of pixel value and 2 bits of headroom for negative lobes leave 22 bits.
constexpr int kPrecisionBits = 32 - 8 - 2;

struct Filter {
  double (*weight)(double x);
  double support;
};

double bilinear_weight(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys cubic convolution with a = -0.5, as PIL's BICUBIC.
double bicubic_weight(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output index along one axis: the first source index, how many source pixels it reads and
// their fixed-point weights (stored with a fixed stride of `taps`).
struct AxisWeights {
  int taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

AxisWeights axis_weights(int in_size, int out_size, const Filter& filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  // Shrinking widens the filter by the shrink factor: this is the antialiasing.
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;

  AxisWeights axis;
  axis.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.weights.assign(static_cast<size_t>(out_size) * axis.taps, 0);
  std::vector<double> weights(axis.taps);
  for (int out = 0; out < out_size; ++out) {
    const double center = (out + 0.5) * scale;
    const double inverse_filter_scale = 1.0 / filter_scale;
    const int first = std::max(static_cast<int>(center - support + 0.5), 0);
    const int count = std::min(static_cast<int>(center + support + 0.5), in_size) - first;
    double sum = 0.0;
    for (int i = 0; i < count; ++i) {
      weights[i] = filter.weight((i + first - center + 0.5) * inverse_filter_scale);
      sum += weights[i];
    }
    int32_t* fixed = &axis.weights[static_cast<size_t>(out) * axis.taps];
    for (int i = 0; i < count; ++i) {
      const double normalised = sum != 0.0 ? weights[i] / sum : weights[i];
      fixed[i] = static_cast<int32_t>(normalised < 0 ? -0.5 + normalised * (1 << kPrecisionBits)
                                                     : 0.5 + normalised * (1 << kPrecisionBits));
    }
    axis.first[out] = first;
    axis.count[out] = count;
  }
  return axis;
}

// Rounds a fixed-point sum (which started at one half) to 8 bits with clamping.
inline uint8_t clip8(int32_t sum) { return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255)); }

cv::Mat resample_horizontal(const cv::Mat& in, const AxisWeights& axis) {
  const int out_width = static_cast<int>(axis.first.size());
  cv::Mat out(in.rows, out_width, CV_8UC3);
  cv::parallel_for_(cv::Range(0, in.rows), [&](const cv::Range& rows) {
    for (int y = rows.start; y < rows.end; ++y) {
      const uint8_t* src = in.ptr<uint8_t>(y);
      uint8_t* dst = out.ptr<uint8_t>(y);
      for (int x = 0; x < out_width; ++x) {
        const int32_t* w = &axis.weights[static_cast<size_t>(x) * axis.taps];
        const uint8_t* pixel = src + axis.first[x] * 3;
        int32_t r = 1 << (kPrecisionBits - 1), g = r, b = r;
        for (int i = 0; i < axis.count[x]; ++i, pixel += 3) {
          r += pixel[0] * w[i];
          g += pixel[1] * w[i];
          b += pixel[2] * w[i];
        }
        dst[x * 3 + 0] = clip8(r);
        dst[x * 3 + 1] = clip8(g);
        dst[x * 3 + 2] = clip8(b);
      }
    }
  });
  return out;
}

// Row-at-a-time accumulation keeps the inner loop contiguous (and vectorisable).
cv::Mat resample_vertical(const cv::Mat& in, const AxisWeights& axis) {
  const int out_height = static_cast<int>(axis.first.size());
  const int row_values = in.cols * 3;
  cv::Mat out(out_height, in.cols, CV_8UC3);
  cv::parallel_for_(cv::Range(0, out_height), [&](const cv::Range& rows) {
    std::vector<int32_t> sums(row_values);
    for (int y = rows.start; y < rows.end; ++y) {
      std::fill(sums.begin(), sums.end(), 1 << (kPrecisionBits - 1));
      const int32_t* w = &axis.weights[static_cast<size_t>(y) * axis.taps];
      for (int i = 0; i < axis.count[y]; ++i) {
        const uint8_t* src = in.ptr<uint8_t>(axis.first[y] + i);
        const int32_t weight = w[i];
        for (int v = 0; v < row_values; ++v) sums[v] += src[v] * weight;
      }
      uint8_t* dst = out.ptr<uint8_t>(y);
      for (int v = 0; v < row_values; ++v) dst[v] = clip8(sums[v]);
    }
  });
  return out;
}

// PIL's NEAREST steps through source positions by repeated addition, not multiplication; the
// accumulated rounding decides which pixel is taken when a position lands on an integer.
std::vector<int> nearest_indices(int in_size, int out_size) {
  const double step = static_cast<double>(in_size) / out_size;
  std::vector<int> indices(out_size);
  double position = step * 0.5;
  for (int& index : indices) {
    index = std::min(static_cast<int>(position), in_size - 1);
    position += step;
  }
  return indices;
}

cv::Mat resize_nearest(const cv::Mat& in, int out_width, int out_height) {
  const std::vector<int> columns = nearest_indices(in.cols, out_width);
  const std::vector<int> rows = nearest_indices(in.rows, out_height);
  cv::Mat out(out_height, out_width, CV_8UC3);
  for (int y = 0; y < out_height; ++y) {
    const cv::Vec3b* src = in.ptr<cv::Vec3b>(rows[y]);
    cv::Vec3b* dst = out.ptr<cv::Vec3b>(y);
    for (int x = 0; x < out_width; ++x) dst[x] = src[columns[x]];
  }
  return out;
}

Filter filter_for(Interpolation interpolation) {
  return interpolation == Interpolation::kBicubic ? Filter{bicubic_weight, 2.0} : Filter{bilinear_weight, 1.0};
}

}  // namespace

Interpolation parse_interpolation(const std::string& name) {
  if (name == "nearest") return Interpolation::kNearest;
  if (name == "bilinear") return Interpolation::kBilinear;
  if (name == "bicubic") return Interpolation::kBicubic;
  throw Error("unknown interpolation '" + name + "' (valid: nearest, bilinear, bicubic)");
}

cv::Mat resize_like_pil(const cv::Mat& rgb8, int out_width, int out_height, Interpolation interpolation) {
  if (rgb8.type() != CV_8UC3 || rgb8.empty()) throw Error("resize_like_pil: expects a non-empty 8-bit 3-channel image");
  if (out_width <= 0 || out_height <= 0) {
    throw Error("resize_like_pil: invalid output size " + std::to_string(out_width) + "x" + std::to_string(out_height));
  }
  if (out_width == rgb8.cols && out_height == rgb8.rows) return rgb8.clone();
  if (interpolation == Interpolation::kNearest) return resize_nearest(rgb8, out_width, out_height);

  const Filter filter = filter_for(interpolation);
  cv::Mat intermediate = rgb8;
  AxisWeights vertical;
  if (out_height != rgb8.rows) {
    vertical = axis_weights(rgb8.rows, out_height, filter);
    // Only the source rows the vertical pass reads go through the horizontal pass.
    const int first_row = vertical.first.front();
    intermediate = rgb8.rowRange(first_row, vertical.first.back() + vertical.count.back());
    for (int& first : vertical.first) first -= first_row;
  }
  if (out_width != rgb8.cols) {
    intermediate = resample_horizontal(intermediate, axis_weights(rgb8.cols, out_width, filter));
  }
  if (out_height == rgb8.rows) return intermediate;
  return resample_vertical(intermediate, vertical);
}

}  // namespace tervit::data
