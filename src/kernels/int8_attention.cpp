// int8 attention's dispatch and its plain reference (int8_attention.h).
#include "tervit/kernels/int8_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "src/kernels/float_kernels.h"
#include "src/kernels/int8_attention_kernels.h"
#include "tervit/kernels/ternary_kernels.h"

namespace tervit::kernels {

const NameTable<AttentionPrecision>& attention_precision_names() {
  static const NameTable<AttentionPrecision> table{{"float", AttentionPrecision::kFloat}, {"int8", AttentionPrecision::kInt8}};
  return table;
}

int32_t int8_attention_weight_top(int64_t tokens) {
  const int64_t fitting = ((int64_t{1} << 31) - 1) / (127 * std::max<int64_t>(tokens, 1));
  return static_cast<int32_t>(std::clamp<int64_t>(fitting, 1, 32767));
}

void int8_attention_head_reference(const AttentionHead& head, float* out, int64_t out_stride) {
  const int64_t n = head.tokens, m = head.query_count(), d = head.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<int8_t> q(static_cast<size_t>(m * d)), k(static_cast<size_t>(n * d)), v(k.size());
  std::vector<float> q_scale(static_cast<size_t>(m)), k_scale(static_cast<size_t>(n)), v_scale(static_cast<size_t>(d));
  for (int64_t i = 0; i < m; ++i) q_scale[i] = quantize_run_reference(head.q + i * head.stride, d, 1, &q[i * d], 1);
  for (int64_t j = 0; j < n; ++j) k_scale[j] = quantize_run_reference(head.k + j * head.stride, d, 1, &k[j * d], 1);
  for (int64_t c = 0; c < d; ++c) v_scale[c] = quantize_run_reference(head.v + c, n, head.stride, &v[c], d);
  const auto top = static_cast<float>(int8_attention_weight_top(n));
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<int32_t> weights(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      int32_t dot = 0;
      for (int64_t c = 0; c < d; ++c) dot += q[i * d + c] * k[j * d + c];
      float score = static_cast<float>(dot) * (q_scale[i] * scale) * k_scale[j];
      if (head.bias != nullptr) score += head.bias[i * n + j];
      if (head.region != nullptr && head.region[i] != head.region[j]) score += kMaskedScore;
      scores[j] = score;
    }
    const float max = *std::max_element(scores.begin(), scores.end());
    int32_t sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += weights[j] = static_cast<int32_t>(std::nearbyint(std::exp(scores[j] - max) * top));
    const float inverse = 1.0f / static_cast<float>(sum);
    for (int64_t c = 0; c < d; ++c) {
      int32_t total = 0;
      for (int64_t j = 0; j < n; ++j) total += weights[j] * v[j * d + c];
      out[i * out_stride + c] = static_cast<float>(total) * (v_scale[c] * inverse);
    }
  }
}

void int8_attention_head(const AttentionHead& head, float* out, int64_t out_stride) {
  static const auto kernel = cpu_has_avx512_vnni() ? int8_attention_head_avx512_vnni : int8_attention_head_reference;
  kernel(head, out, out_stride);
}

AttentionKernel attention_kernel(AttentionPrecision precision) {
  return precision == AttentionPrecision::kInt8 ? int8_attention_head : attention_head;
}

}  // namespace tervit::kernels
