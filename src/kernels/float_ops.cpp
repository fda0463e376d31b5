// The float operations' dispatch, their plain parts, and the reference kernels (float_kernels.h).
#include "tervit/kernels/float_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tervit/kernels/parallel_chunks.h"
#include "src/kernels/float_kernels.h"
#include "tervit/kernels/ternary_kernels.h"

namespace tervit::kernels {

namespace {

// HalfErf's H(a) for a >= 0 (NaN: H(6)), with the vector kernels' operations.
float half_erf(float a) {
  a = a < HalfErf::kEnd ? a : HalfErf::kEnd;
  const float piece = std::min(std::floor(a * HalfErf::kPiecesPerUnit), static_cast<float>(HalfErf::kPieces - 1));
  const float t = std::fma(-piece, HalfErf::kWidth, a);
  const auto k = static_cast<int>(piece);
  float h = HalfErf::kCoefficients[0][k];
  for (size_t i = 1; i < std::size(HalfErf::kCoefficients); ++i) h = std::fma(h, t, HalfErf::kCoefficients[i][k]);
  return h;
}

}  // namespace

void gelu_reference(const float* x, int64_t count, float* y) {
  for (int64_t i = 0; i < count; ++i) y[i] = std::fma(std::abs(x[i]), half_erf(std::abs(x[i])), 0.5f * x[i]);
}

void gelu_backward_reference(const float* x, const float* grad, int64_t count, float* grad_x) {
  for (int64_t i = 0; i < count; ++i) {
    const float z = std::abs(x[i]) * kInvSqrt2, gaussian = std::exp(-z * z);
    const float cdf = 0.5f + std::copysign(half_erf(std::abs(x[i])), x[i]);
    grad_x[i] = grad[i] * std::fma(x[i] * gaussian, kInvSqrt2Pi, cdf);
  }
}

void softmax_reference(float* scores, int64_t count) {
  const float max = *std::max_element(scores, scores + count);
  float sum = 0;
  for (int64_t j = 0; j < count; ++j) {
    scores[j] = std::exp(scores[j] - max);
    sum += scores[j];
  }
  for (int64_t j = 0; j < count; ++j) scores[j] /= sum;
}

void attention_head_reference(const AttentionHead& head, float* out, int64_t out_stride) {
  const int64_t n = head.tokens, d = head.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> scores(static_cast<size_t>(n));
  for (int64_t i = 0; i < head.query_count(); ++i) {
    const float* q = head.q + i * head.stride;
    for (int64_t j = 0; j < n; ++j) {
      const float* k = head.k + j * head.stride;
      float dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += q[c] * scale * k[c];  // as the models: (q · scale) · k
      if (head.bias != nullptr) dot += head.bias[i * n + j];
      if (head.region != nullptr && head.region[i] != head.region[j]) dot += kMaskedScore;
      scores[j] = dot;
    }
    softmax_reference(scores.data(), n);
    for (int64_t c = 0; c < d; ++c) {
      float sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += scores[j] * head.v[j * head.stride + c];
      out[i * out_stride + c] = sum;
    }
  }
}

void layer_norm_row_reference(const float* in, int64_t dim, const float* weight, const float* bias, float eps, float* out) {
  double sum = 0, squares = 0;
  for (int64_t i = 0; i < dim; ++i) sum += in[i];
  const double mean = sum / static_cast<double>(dim);
  for (int64_t i = 0; i < dim; ++i) squares += (in[i] - mean) * (in[i] - mean);
  const float m = static_cast<float>(mean);
  const float inv_std = static_cast<float>(1.0 / std::sqrt(squares / static_cast<double>(dim) + eps));
  for (int64_t i = 0; i < dim; ++i) out[i] = (in[i] - m) * inv_std * weight[i] + bias[i];
}

namespace {

// A row kernel over NormRows, the residual sum first.
template <void (*kRow)(const float*, int64_t, const float*, const float*, float, float*)>
void layer_norm_each_row(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps) {
  for (int64_t t = 0; t < rows.count; ++t) {
    if (rows.residual)
      for (int64_t i = 0; i < dim; ++i) rows.sum[t][i] = rows.in[t][i] + rows.delta[t][i];
    kRow(rows.residual ? rows.sum[t] : rows.in[t], dim, weight, bias, eps, rows.out[t]);
  }
}

// Runs of up to 16 rows, `fill` setting run rows' pointers, split over the threads.
template <typename Fill>
void layer_norm_runs(int64_t tokens, int64_t dim, const float* weight, const float* bias, float eps, bool residual, Fill fill) {
  const auto kernel = cpu_has_avx512() ? layer_norm_rows_avx512 : cpu_has_avx2() ? layer_norm_rows_avx2 : layer_norm_rows_reference;
  parallel_chunks(tokens, NormRows::kMax, [&](int64_t begin, int64_t end) {
    for (int64_t first = begin; first < end; first += NormRows::kMax) {
      NormRows rows;
      rows.count = std::min(NormRows::kMax, end - first);
      rows.residual = residual;
      for (int64_t t = 0; t < rows.count; ++t) fill(first + t, rows, t);
      kernel(rows, dim, weight, bias, eps);
    }
  });
}

}  // namespace

void layer_norm_rows_reference(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps) {
  layer_norm_each_row<layer_norm_row_reference>(rows, dim, weight, bias, eps);
}

void layer_norm_rows_avx2(const NormRows& rows, int64_t dim, const float* weight, const float* bias, float eps) {
  layer_norm_each_row<layer_norm_row_avx2>(rows, dim, weight, bias, eps);
}

void layer_norm(const float* x, int64_t tokens, int64_t dim, const float* weight, const float* bias, float eps, float* y) {
  layer_norm_runs(tokens, dim, weight, bias, eps, /*residual=*/false, [&](int64_t n, NormRows& rows, int64_t t) {
    rows.in[t] = x + n * dim;
    rows.out[t] = y + n * dim;
  });
}

void residual_layer_norm(TokenRows<float> x, TokenRows<const float> delta, int64_t tokens, int64_t dim, const float* weight,
                         const float* bias, float eps, TokenRows<float> y) {
  layer_norm_runs(tokens, dim, weight, bias, eps, delta.base != nullptr, [&](int64_t n, NormRows& rows, int64_t t) {
    rows.in[t] = rows.sum[t] = x.row(n, dim);
    if (delta.base != nullptr) rows.delta[t] = delta.row(n, dim);
    rows.out[t] = y.row(n, dim);
  });
}

void gelu(const float* x, int64_t count, float* y) {
  const auto kernel = cpu_has_avx512() ? gelu_avx512 : cpu_has_avx2() ? gelu_avx2 : gelu_reference;
  parallel_chunks(count, 4096, [&](int64_t begin, int64_t end) { kernel(x + begin, end - begin, y + begin); });
}

void gelu_backward(const float* x, const float* grad, int64_t count, float* grad_x) {
  const auto kernel = cpu_has_avx512() ? gelu_backward_avx512 : cpu_has_avx2() ? gelu_backward_avx2 : gelu_backward_reference;
  parallel_chunks(count, 4096,
                          [&](int64_t begin, int64_t end) { kernel(x + begin, grad + begin, end - begin, grad_x + begin); });
}

void add(const float* x, int64_t count, float* y) {
  // Threaded: a residual sum of a whole image's tokens, run on one thread, kept the others waiting.
  parallel_chunks(count, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) y[i] += x[i];
  });
}

void attention_head(const AttentionHead& head, float* out, int64_t out_stride) {
  static const auto kernel = cpu_has_avx512() ? attention_head_avx512 : cpu_has_avx2() ? attention_head_avx2 : attention_head_reference;
  kernel(head, out, out_stride);
}

void dense_linear(const float* x, int64_t tokens, int64_t cols, const float* weight_t, int64_t rows, const float* bias,
                  float* y) {
  // One token (a head's pooled features): split the output columns instead of the tokens.
  const int64_t row_grain = tokens == 1 ? 64 : rows;
  parallel_chunks(tokens, 1, [&](int64_t token_begin, int64_t token_end) {
    parallel_chunks(rows, row_grain, [&](int64_t begin, int64_t end) {
      for (int64_t n = token_begin; n < token_end; ++n) {
        float* out = y + n * rows;
        for (int64_t r = begin; r < end; ++r) out[r] = bias != nullptr ? bias[r] : 0.0f;
        for (int64_t k = 0; k < cols; ++k) {
          const float value = x[n * cols + k];
          const float* w = weight_t + k * rows;
          for (int64_t r = begin; r < end; ++r) out[r] += value * w[r];
        }
      }
    });
  });
}

}  // namespace tervit::kernels
