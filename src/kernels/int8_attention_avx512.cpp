// int8 attention on AVX-512 VNNI (int8_attention_kernels.h), per block of 8 queries as the float kernel
// (float_ops_avx512.cpp): their scores against every key, the softmax, then their outputs.
// - Q·Kᵀ: lane j of a vector is key j; vpdpbusd adds 4 key bytes times the query's 4 bytes, broadcast.
//   Keys are stored shifted to unsigned (k + 128, vpdpbusd's unsigned operand) in groups of 4 channels,
//   so the sum is Σ q·k + 128 Σ q, and the query's Σ q takes the excess off.
// - P·V: lane c is channel c; vpdpwssd adds 2 int16 weights times 2 keys' values (int8 widened to
//   int16, interleaved in pairs of keys).
// Tiles of 8 queries x 32 keys and of 4-8 queries x 64-16 channels keep up to 16 accumulators in registers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/kernels/int8_attention_kernels.h"
#include "src/kernels/round_up.h"
#include "src/kernels/x86_simd512.h"
#include "tervit/kernels/int8_attention.h"
#include "tervit/kernels/ternary_kernels.h"

namespace tervit::kernels {

#if defined(__x86_64__) || defined(__i386__)

namespace {

constexpr int64_t kQueryBlock = 8;
constexpr int64_t kLanes = x86::kLanes512;
using x86::lanes_from;

// One head's operands, quantized and laid out for the products.
struct Operands {
  int64_t groups;       // 4-channel groups of a query or key
  int64_t key_cols;     // keys rounded up to 16: a row of scores
  int64_t pairs;        // pairs of keys, the last one padded with a zero key
  int64_t channels;     // channels rounded up to 16
  int32_t* queries;     // tokens x groups, 4 signed bytes each
  float* query_scale;   // tokens
  int32_t* query_sum;   // tokens: Σ of each query's bytes
  uint32_t* keys;       // groups x key_cols, 4 unsigned bytes (k + 128) each
  float* key_scale;     // key_cols, 0 past the last key
  int32_t* values;      // pairs x channels, 2 int16 each (keys 2p and 2p + 1)
  float* value_scale;   // channels
};

// Queries and keys 16 rows at a time, each by its own absmax (x86::quantize16_rows); the keys through
// `staged` (16 rows of groups words), then each group's 16 keys gathered into place as k + 128. Scalar
// transposing and per-row reductions were a third of a Swin window head's time.
TERVIT_AVX512_VNNI void quantize_operands(const AttentionHead& head, const Operands& o, int32_t* staged) {
  const int64_t n = head.tokens, m = head.query_count(), d = head.head_dim, row_bytes = 4 * o.groups;
  for (int64_t i = 0; i < m; i += kLanes)
    x86::quantize16_rows<0>(head.q + i * head.stride, head.stride, std::min(kLanes, m - i), d,
                            reinterpret_cast<int8_t*>(o.queries + i * o.groups), row_bytes, row_bytes, o.query_scale + i, o.query_sum + i);
  const __m512i staged_rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                                 _mm512_set1_epi32(static_cast<int>(o.groups)));
  const __m512i to_unsigned = _mm512_set1_epi32(static_cast<int>(0x80808080u));
  for (int64_t j0 = 0; j0 < n; j0 += kLanes) {
    const int64_t count = std::min(kLanes, n - j0);
    x86::quantize16_rows<0>(head.k + j0 * head.stride, head.stride, count, d, reinterpret_cast<int8_t*>(staged), row_bytes, row_bytes,
                            o.key_scale + j0, nullptr);
    // Lanes past the last key gather nothing: a zero key, 0x80 bytes once shifted.
    const __mmask16 keys = lanes_from(0, count);
    for (int64_t g = 0; g < o.groups; ++g) {
      const __m512i words = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), keys, staged_rows, staged + g, 4);
      _mm512_storeu_si512(o.keys + g * o.key_cols + j0, _mm512_xor_si512(words, to_unsigned));
    }
  }
  std::fill(o.key_scale + n, o.key_scale + o.key_cols, 0.0f);
  // Values: each channel's absmax over the tokens, then pairs of keys interleaved as int16.
  for (int64_t c = 0; c < o.channels; c += kLanes) {
    const __mmask16 lanes = lanes_from(c, d);
    __m512 absmax = _mm512_setzero_ps();
    for (int64_t j = 0; j < n; ++j) absmax = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(lanes, head.v + j * head.stride + c)), absmax);
    const __m512 to_int = _mm512_div_ps(_mm512_set1_ps(127.0f), _mm512_max_ps(absmax, _mm512_set1_ps(1e-5f)));
    _mm512_storeu_ps(o.value_scale + c, _mm512_div_ps(_mm512_set1_ps(1.0f), to_int));
    for (int64_t p = 0; p < o.pairs; ++p) {
      const __mmask16 second = 2 * p + 1 < n ? lanes : 0;
      const __m512i even = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, head.v + 2 * p * head.stride + c), to_int));
      const __m512i odd = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(second, head.v + (2 * p + 1) * head.stride + c), to_int));
      _mm512_storeu_si512(o.values + p * o.channels + c,
                          _mm512_or_si512(_mm512_and_si512(even, _mm512_set1_epi32(0xFFFF)), _mm512_slli_epi32(odd, 16)));
    }
  }
}

// Scores of 8 queries (i0 ...; rows past the last token repeat it) against 16 · Vectors keys from k0.
template <int Vectors>
TERVIT_AVX512_VNNI inline void score_block(const Operands& o, int64_t i0, int64_t rows, int64_t k0, float scale, float* scores) {
  __m512i acc[kQueryBlock * Vectors];
#pragma GCC unroll 16
  for (int k = 0; k < kQueryBlock * Vectors; ++k) acc[k] = _mm512_setzero_si512();
  const int32_t* query[kQueryBlock];
  for (int64_t i = 0; i < kQueryBlock; ++i) query[i] = o.queries + (i0 + std::min(i, rows - 1)) * o.groups;
  for (int64_t g = 0; g < o.groups; ++g) {
    const __m512i keys0 = _mm512_loadu_si512(o.keys + g * o.key_cols + k0);
    const __m512i keys1 = Vectors == 2 ? _mm512_loadu_si512(o.keys + g * o.key_cols + k0 + kLanes) : keys0;
#pragma GCC unroll 8
    for (int i = 0; i < kQueryBlock; ++i) {
      const __m512i q = _mm512_set1_epi32(query[i][g]);
      acc[i * Vectors] = x86::dpbusd(acc[i * Vectors], keys0, q);
      if (Vectors == 2) acc[i * Vectors + 1] = x86::dpbusd(acc[i * Vectors + 1], keys1, q);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < kQueryBlock; ++i) {
    const int64_t token = i0 + std::min<int64_t>(i, rows - 1);
    const __m512i excess = _mm512_set1_epi32(128 * o.query_sum[token]);
    const __m512 query_scale = _mm512_set1_ps(o.query_scale[token] * scale);  // (q · scale) · k, as the models
#pragma GCC unroll 2
    for (int v = 0; v < Vectors; ++v) {
      const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i * Vectors + v], excess));
      _mm512_storeu_ps(scores + i * o.key_cols + k0 + v * kLanes,
                       _mm512_mul_ps(_mm512_mul_ps(dot, query_scale), _mm512_loadu_ps(o.key_scale + k0 + v * kLanes)));
    }
  }
}

// A block's rows of scores (`rows` of them, from query i0, key_cols apart) to integer weights (int16, pairs
// of keys in one int32), and the inverses of their sums. The rows' maxima and sums are reduced together
// (x86::reduce_each): reduced row by row, each row's exponentials waited for its maximum, and the softmax
// took 45% of a Swin window head's time.
TERVIT_AVX512_VNNI void weigh_rows(const AttentionHead& head, int64_t i0, int64_t rows, int64_t key_cols, float top, float* scores,
                                   int16_t* weights, float* inverse) {
  const int64_t n = head.tokens;
  __m512 lanes[kLanes];
  for (int64_t i = 0; i < rows; ++i)
    lanes[i] = x86::biased_scores_max16(scores + i * key_cols, n, head.bias != nullptr ? head.bias + (i0 + i) * n : nullptr, head.region,
                                        head.region != nullptr ? head.region[i0 + i] : 0);
  for (int64_t i = rows; i < kLanes; ++i) lanes[i] = lanes[0];
  const __m512 maxima = x86::reduce_each(lanes, x86::max16);
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = scores + i * key_cols;
    const __m512 shift = _mm512_permutexvar_ps(_mm512_set1_epi32(static_cast<int>(i)), maxima);
    __m512i sum = _mm512_setzero_si512();
    for (int64_t j = 0; j < n; j += kLanes) {
      const __m512 e = _mm512_maskz_mov_ps(lanes_from(j, n), x86::exp_nonpositive<5>(_mm512_sub_ps(_mm512_loadu_ps(row + j), shift)));
      const __m512i w = _mm512_cvtps_epi32(_mm512_mul_ps(e, _mm512_set1_ps(top)));
      sum = _mm512_add_epi32(sum, w);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(weights + i * key_cols + j), _mm512_cvtepi32_epi16(w));
    }
    lanes[i] = _mm512_castsi512_ps(sum);
  }
  for (int64_t i = rows; i < kLanes; ++i) lanes[i] = _mm512_setzero_ps();
  const __m512 sums = _mm512_cvtepi32_ps(_mm512_castps_si512(x86::reduce_each(lanes, x86::add16_epi32)));
  _mm512_mask_storeu_ps(inverse, lanes_from(0, rows), _mm512_div_ps(_mm512_set1_ps(1.0f), sums));
}

// Outputs of Queries rows (t0 ... of the block, each row's weights weight_stride int16 apart) over 16 ·
// Vectors channels from c0; `stored` masks the rows and lanes that exist.
template <int Queries, int Vectors>
TERVIT_AVX512_VNNI inline void output_block(const Operands& o, const int16_t* weights, int64_t weight_stride, const float* inverse,
                                            int64_t c0, const __mmask16* stored, float* out, int64_t out_stride) {
  __m512i acc[Queries * Vectors];
#pragma GCC unroll 16
  for (int k = 0; k < Queries * Vectors; ++k) acc[k] = _mm512_setzero_si512();
  for (int64_t p = 0; p < o.pairs; ++p) {
    __m512i values[Vectors];
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) values[v] = _mm512_loadu_si512(o.values + p * o.channels + c0 + v * kLanes);
#pragma GCC unroll 8
    for (int t = 0; t < Queries; ++t) {
      int32_t pair;
      std::memcpy(&pair, weights + t * weight_stride + 2 * p, 4);
      const __m512i w = _mm512_set1_epi32(pair);
#pragma GCC unroll 4
      for (int v = 0; v < Vectors; ++v) acc[t * Vectors + v] = x86::dpwssd(acc[t * Vectors + v], w, values[v]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < Queries; ++t)
#pragma GCC unroll 4
    for (int v = 0; v < Vectors; ++v) {
      const __m512 factor = _mm512_mul_ps(_mm512_loadu_ps(o.value_scale + c0 + v * kLanes), _mm512_set1_ps(inverse[t]));
      _mm512_mask_storeu_ps(out + t * out_stride + c0 + v * kLanes, stored[t * Vectors + v],
                            _mm512_mul_ps(_mm512_cvtepi32_ps(acc[t * Vectors + v]), factor));
    }
}

// The outputs of a block's `rows` queries, Queries at a time, over 16 · Vectors channels from c0.
template <int Queries, int Vectors>
TERVIT_AVX512_VNNI void output_rows(const Operands& o, int64_t d, const int16_t* weights, int64_t weight_stride, const float* inverse,
                                    int64_t rows, int64_t c0, float* out, int64_t out_stride) {
  for (int64_t t0 = 0; t0 < rows; t0 += Queries) {
    __mmask16 stored[Queries * Vectors];
    for (int t = 0; t < Queries; ++t)
      for (int v = 0; v < Vectors; ++v) stored[t * Vectors + v] = t0 + t < rows ? lanes_from(c0 + v * kLanes, d) : 0;
    output_block<Queries, Vectors>(o, weights + t0 * weight_stride, weight_stride, inverse + t0, c0, stored, out + t0 * out_stride,
                                   out_stride);
  }
}

}  // namespace

TERVIT_AVX512_VNNI void int8_attention_head_avx512_vnni(const AttentionHead& head, float* out, int64_t out_stride) {
  const int64_t n = head.tokens, m = head.query_count(), d = head.head_dim;
  Operands o{};
  o.groups = round_up(d, kLanes) / 4;  // rows of whole 16-byte stores
  o.key_cols = round_up(n, kLanes);
  o.pairs = round_up(n, 2) / 2;
  o.channels = round_up(d, kLanes);
  // One buffer of 4-byte words: the operands, 16 keys' staged bytes, then a block's scores, weights (int16,
  // key_cols per row) and the inverses of their sums.
  thread_local std::vector<int32_t> buffer;
  const int64_t words = n * o.groups + 2 * n + o.groups * o.key_cols + o.key_cols + o.pairs * o.channels + o.channels +
                        kLanes * o.groups + kQueryBlock * o.key_cols + kQueryBlock * o.key_cols / 2 + kQueryBlock;
  buffer.resize(static_cast<size_t>(words));
  int32_t* next = buffer.data();
  const auto take = [&](int64_t count) {
    int32_t* start = next;
    next += count;
    return start;
  };
  o.queries = take(n * o.groups);
  o.query_scale = reinterpret_cast<float*>(take(n));
  o.query_sum = take(n);
  o.keys = reinterpret_cast<uint32_t*>(take(o.groups * o.key_cols));
  o.key_scale = reinterpret_cast<float*>(take(o.key_cols));
  o.values = take(o.pairs * o.channels);
  o.value_scale = reinterpret_cast<float*>(take(o.channels));
  int32_t* staged_keys = take(kLanes * o.groups);
  float* scores = reinterpret_cast<float*>(take(kQueryBlock * o.key_cols));
  auto* weights = reinterpret_cast<int16_t*>(take(kQueryBlock * o.key_cols / 2));
  auto* inverse = reinterpret_cast<float*>(take(kQueryBlock));
  quantize_operands(head, o, staged_keys);

  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const auto top = static_cast<float>(int8_attention_weight_top(n));
  for (int64_t i0 = 0; i0 < m; i0 += kQueryBlock) {
    const int64_t rows = std::min(kQueryBlock, m - i0);
    int64_t k0 = 0;
    for (; k0 + kLanes < o.key_cols; k0 += 2 * kLanes) score_block<2>(o, i0, rows, k0, scale, scores);
    if (k0 < o.key_cols) score_block<1>(o, i0, rows, k0, scale, scores);
    weigh_rows(head, i0, rows, o.key_cols, top, scores, weights, inverse);
    float* block_out = out + i0 * out_stride;
    for (int64_t c0 = 0; c0 < d; c0 += 4 * kLanes) {
      switch (std::min<int64_t>(4, (d - c0 + kLanes - 1) / kLanes)) {
        case 4: output_rows<4, 4>(o, d, weights, o.key_cols, inverse, rows, c0, block_out, out_stride); break;
        case 3: output_rows<4, 3>(o, d, weights, o.key_cols, inverse, rows, c0, block_out, out_stride); break;
        case 2: output_rows<8, 2>(o, d, weights, o.key_cols, inverse, rows, c0, block_out, out_stride); break;
        default: output_rows<8, 1>(o, d, weights, o.key_cols, inverse, rows, c0, block_out, out_stride);
      }
    }
  }
}

#else  // no x86: never chosen (cpu_has_avx512_vnni() is false), but the name must link

void int8_attention_head_avx512_vnni(const AttentionHead& head, float* out, int64_t out_stride) {
  int8_attention_head_reference(head, out, out_stride);
}

#endif

}  // namespace tervit::kernels
