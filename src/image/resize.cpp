#include "tervit/image/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tervit/core/error.h"

// Follows Pillow's libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResample{Horizontal,Vertical}_8bpc) and Geometry.c (ImagingScaleAffine for NEAREST): every
// floating-point expression keeps PIL's order of operations so that the selected source pixels and the
// fixed-point weights, hence the output bytes, are identical.
namespace tervit::image {
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

// The passes are also compiled for SSE4.1 and AVX2 (32-bit multiplies, byte widening), chosen when the
// program loads; the arithmetic stays PIL's int32 fixed point, so every clone gives the same bytes.
#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define TERVIT_SIMD_CLONES __attribute__((target_clones("avx2", "sse4.1", "default")))
#endif
#endif
#ifndef TERVIT_SIMD_CLONES
#define TERVIT_SIMD_CLONES
#endif

// Four int32 lanes (GCC/Clang vector extension): an RGB pixel's three channels are summed together.
using Int4 = int32_t __attribute__((vector_size(16)));
using Bytes16 = uint8_t __attribute__((vector_size(16)));

// The RGB pixel at p in lanes 0-2; lane 3 holds the byte after it, so p[3] must be readable.
inline Int4 load_pixel(const uint8_t* p) {
#if defined(__has_builtin) && __has_builtin(__builtin_shufflevector)
  Bytes16 bytes = {};
  std::memcpy(&bytes, p, 4);
  // Zero-extends four bytes to four int32 (one pmovzxbd or two unpacks).
  return reinterpret_cast<Int4>(
      __builtin_shufflevector(bytes, Bytes16{}, 0, 16, 16, 16, 1, 16, 16, 16, 2, 16, 16, 16, 3, 16, 16, 16));
#else
  return Int4{p[0], p[1], p[2], p[3]};
#endif
}

// clip8 on every lane.
inline Int4 clip8(Int4 sum) {
  const Int4 value = sum >> kPrecisionBits;
  const Int4 low = value < 0 ? 0 : value;
  return low > 255 ? 255 : low;
}

// Writes lanes 0-2 of 8-bit values as an RGB pixel at p; with spare_byte, one store that also writes p[3].
inline void store_pixel(Int4 value, uint8_t* p, bool spare_byte) {
#if defined(__has_builtin) && __has_builtin(__builtin_shufflevector)
  if (spare_byte) {
    const Bytes16 bytes = __builtin_shufflevector(reinterpret_cast<Bytes16>(value), Bytes16{}, 0, 4, 8, 12, 16, 16, 16,
                                                  16, 16, 16, 16, 16, 16, 16, 16, 16);
    std::memcpy(p, &bytes, 4);
    return;
  }
#endif
  p[0] = static_cast<uint8_t>(value[0]);
  p[1] = static_cast<uint8_t>(value[1]);
  p[2] = static_cast<uint8_t>(value[2]);
}

TERVIT_SIMD_CLONES
void resample_horizontal_rows(const cv::Mat& in, const AxisWeights& axis, cv::Mat& out, int row_begin, int row_end) {
  const int half = 1 << (kPrecisionBits - 1);
  for (int y = row_begin; y < row_end; ++y) {
    const uint8_t* src = in.ptr<uint8_t>(y);
    uint8_t* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < out.cols; ++x) {
      const int32_t* w = &axis.weights[static_cast<size_t>(x) * axis.taps];
      const int first = axis.first[x];
      const int last = axis.count[x] - 1;
      const uint8_t* pixel = src + first * 3;
      Int4 sum = {half, half, half, half};
      for (int i = 0; i < last; ++i) sum += load_pixel(pixel + i * 3) * w[i];
      // The row's last pixel has no byte after it inside the image.
      const uint8_t* end = pixel + last * 3;
      sum += (first + last + 1 < in.cols ? load_pixel(end) : Int4{end[0], end[1], end[2], 0}) * w[last];
      store_pixel(clip8(sum), dst + x * 3, x + 1 < out.cols);
    }
  }
}

// Row-at-a-time accumulation keeps the inner loops contiguous, so the compiler vectorises them.
TERVIT_SIMD_CLONES
void resample_vertical_rows(const cv::Mat& in, const AxisWeights& axis, cv::Mat& out, int row_begin, int row_end) {
  const int row_values = in.cols * 3;
  std::vector<int32_t> sums(row_values);
  for (int y = row_begin; y < row_end; ++y) {
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
}

cv::Mat resample_horizontal(const cv::Mat& in, const AxisWeights& axis) {
  cv::Mat out(in.rows, static_cast<int>(axis.first.size()), CV_8UC3);
  cv::parallel_for_(cv::Range(0, in.rows),
                    [&](const cv::Range& rows) { resample_horizontal_rows(in, axis, out, rows.start, rows.end); });
  return out;
}

cv::Mat resample_vertical(const cv::Mat& in, const AxisWeights& axis) {
  cv::Mat out(static_cast<int>(axis.first.size()), in.cols, CV_8UC3);
  cv::parallel_for_(cv::Range(0, out.rows),
                    [&](const cv::Range& rows) { resample_vertical_rows(in, axis, out, rows.start, rows.end); });
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

const NameTable<Interpolation>& interpolation_names() {
  static const NameTable<Interpolation> table{
      {"nearest", Interpolation::kNearest}, {"bilinear", Interpolation::kBilinear}, {"bicubic", Interpolation::kBicubic}};
  return table;
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

}  // namespace tervit::image
