// The int8 kernel on AVX-512 VNNI, on 512-bit vectors. vpdpbusd multiplies 4 unsigned codes by 4 signed
// activations and adds their sum into an int32 lane in one instruction, where AVX2 needs maddubs, an
// int16 add and a widening step. Rows' codes are decoded to bytes once per chunk of tokens, so the inner
// loops only load and multiply. Two tilings:
// - at least 32 tokens (and rows up to 4096 columns): 32 rows x 8 tokens, the codes of each 16 rows
//   interleaved (lane l holds 4 consecutive codes of row l) against the token's 4 activations
//   broadcast, so each lane is one output and needs no reduction, which costs as much as the products
//   when rows are short;
// - otherwise 4 rows x 4 tokens, each accumulator summing 64 columns at a time, which the end of the
//   tile reduces; the rows' codes stay in L1 whatever the width.
// Fewer than 4 tokens (a classifier head at batch 1) skip the decoded copy: 4 rows' codes are taken
// from their bytes in registers and meet each token once.
// (With 256-bit vectors GCC 12 moved every accumulator through another register around each vpdpbusd.)
#include "tervit/kernels/ternary_kernels.h"

#include <algorithm>
#include <cstring>

#include "src/kernels/x86_simd512.h"

namespace tervit::kernels {

#if defined(__x86_64__) || defined(__i386__)

namespace {

constexpr int64_t kRowTile = 4;
constexpr int64_t kTokenTile = 4;
constexpr int64_t kTile = kRowTile * kTokenTile;  // accumulators, index j * kTokenTile + t

// The interleaved tiling: 32 rows (two vectors of 16, one int32 lane per row) x 8 tokens per tile, so
// that each broadcast activation feeds two products; used up to this padded width (the widest rows of
// the models, swin_base's fc2), with chunks of tokens as large as L2 holds beside the 32 rows' codes,
// which are decoded once per chunk.
constexpr int64_t kLanes = 16;
constexpr int64_t kNarrowVectors = 2;
constexpr int64_t kNarrowRowTile = kNarrowVectors * kLanes;
constexpr int64_t kNarrowTokenTile = 8;
constexpr int64_t kNarrowMaxCols = 4096;
constexpr int64_t kNarrowChunkBytes = 512 * 1024;

// Row `row`'s codes (t + 1, one byte each, padded_cols of them) at out.
TERVIT_AVX512_VNNI void decode_row(const PackedTernaryMatrix& w, int64_t row, uint8_t* out) {
  const Block2Bit* blocks = w.row(row);
  for (int64_t b = 0; b < w.blocks_per_row(); ++b)
    for (int64_t i = 0; i < 4; ++i)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + b * Block2Bit::kTrits + 32 * i), x86::block_codes(blocks[b], i));
}

// int8_output for the 16 rows of a narrow tile's vector, whose sums started at kIntegerMagicBits - Σq:
// each lane holds the bits of the float 1.5 · 2^23 + dot (|dot| <= 127 · 1024 < 2^22), so one subtraction
// gives float(dot). The conversion it replaces competes with vpdpbusd for Zen 4's ports, and at 48
// columns these 16 outputs take a fifth of the tile's time.
static_assert(127 * kNarrowMaxCols < (1 << 22), "a narrow tile's dots fit the magic constant's mantissa");
TERVIT_AVX512_VNNI __m512 outputs16(__m512i magic_dots, float token_scale, const float* alpha, const float* bias) {
  const __m512 dot = _mm512_sub_ps(_mm512_castsi512_ps(magic_dots), _mm512_set1_ps(kIntegerMagic));
  return _mm512_add_ps(_mm512_mul_ps(dot, _mm512_mul_ps(_mm512_load_ps(alpha), _mm512_set1_ps(token_scale))), _mm512_load_ps(bias));
}

// int8_output for 4 rows: float(dot - Σq) · (α · scale) + bias, in that order.
TERVIT_AVX512_VNNI __m128 outputs4(__m128i sums, int32_t token_sum, float token_scale, const float* alpha, const float* bias) {
  const __m128 dot = _mm_cvtepi32_ps(_mm_sub_epi32(sums, _mm_set1_epi32(token_sum)));
  return _mm_add_ps(_mm_mul_ps(dot, _mm_mul_ps(_mm_load_ps(alpha), _mm_set1_ps(token_scale))), _mm_load_ps(bias));
}

// The rows of a tile starting at r (a short last tile repeats its last row and stores only its own),
// with their α and bias.
template <int64_t kRows>
struct RowTile {
  int64_t rows[kRows];
  alignas(64) float alpha[kRows];
  alignas(64) float bias[kRows];
  RowTile(const PackedTernaryMatrix& w, int64_t r, int64_t row_end) {
    for (int64_t j = 0; j < kRows; ++j) {
      rows[j] = std::min(r + j, row_end - 1);
      alpha[j] = w.alpha[rows[j]];
      bias[j] = w.bias.empty() ? 0.0f : w.bias[rows[j]];
    }
  }
};

// Lanes [0, count) of `lanes`.
uint32_t first_lanes(int64_t count, int64_t lanes) { return (1u << std::clamp<int64_t>(count, 0, lanes)) - 1u; }

TERVIT_AVX512_VNNI void wide_tiles(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t chunk_begin, int64_t chunk_end,
                                   int64_t row_begin, int64_t row_end, uint8_t* codes, float* y) {
  const int64_t padded = w.padded_cols(), used_cols = (w.cols + 63) / 64 * 64;  // padded is a multiple of 128
  for (int64_t r = row_begin; r < row_end; r += kRowTile) {
    const RowTile<kRowTile> tile(w, r, row_end);
    const auto row_mask = static_cast<__mmask8>(first_lanes(row_end - r, kRowTile));
    const uint8_t* row_codes[kRowTile];
    for (int64_t j = 0; j < kRowTile; ++j) {
      row_codes[j] = codes + j * padded;
      decode_row(w, tile.rows[j], codes + j * padded);
    }
    for (int64_t n = chunk_begin; n < chunk_end; n += kTokenTile) {
      const int8_t* token[kTokenTile];
      for (int64_t t = 0; t < kTokenTile; ++t) token[t] = q.values.data() + std::min(n + t, chunk_end - 1) * q.stride;
      __m512i sum[kTile];
      for (auto& s : sum) s = _mm512_setzero_si512();
      for (int64_t k = 0; k < used_cols; k += 64) {
        __m512i c[kRowTile];
        for (int64_t j = 0; j < kRowTile; ++j) c[j] = _mm512_loadu_si512(row_codes[j] + k);
        for (int64_t t = 0; t < kTokenTile; ++t) {
          const __m512i a = _mm512_loadu_si512(token[t] + k);
          for (int64_t j = 0; j < kRowTile; ++j) sum[j * kTokenTile + t] = x86::dpbusd(sum[j * kTokenTile + t], c[j], a);
        }
      }
      // Halves added, then totals[j * 4 + t] in two vectors; the 4x4 transpose gives one vector of the 4
      // rows per token.
      __m256i halves[kTile];
      for (int64_t i = 0; i < kTile; ++i)
        halves[i] = _mm256_add_epi32(_mm512_castsi512_si256(sum[i]), _mm512_extracti64x4_epi64(sum[i], 1));
      const __m256i low = x86::sum_each(halves), high = x86::sum_each(halves + 8);
      const __m128i r0 = _mm256_castsi256_si128(low), r1 = _mm256_extracti128_si256(low, 1);
      const __m128i r2 = _mm256_castsi256_si128(high), r3 = _mm256_extracti128_si256(high, 1);
      const __m128i t01 = _mm_unpacklo_epi32(r0, r1), t23 = _mm_unpacklo_epi32(r2, r3);
      const __m128i t01h = _mm_unpackhi_epi32(r0, r1), t23h = _mm_unpackhi_epi32(r2, r3);
      const __m128i by_token[kTokenTile] = {_mm_unpacklo_epi64(t01, t23), _mm_unpackhi_epi64(t01, t23),
                                            _mm_unpacklo_epi64(t01h, t23h), _mm_unpackhi_epi64(t01h, t23h)};
      for (int64_t t = 0; t < std::min(kTokenTile, chunk_end - n); ++t)
        _mm_mask_storeu_ps(y + (n + t) * w.rows + r, row_mask, outputs4(by_token[t], q.sum[n + t], q.scale[n + t], tile.alpha, tile.bias));
    }
  }
}

// One narrow tile: the 32 rows whose interleaved codes are at `codes` against the kTokens tokens from n.
// y points at the tile's first output; rows past the matrix's (a short last row tile) are not stored.
// Each token count is its own instance, its accumulators in registers: GCC copies them around each
// vpdpbusd when one loop serves several counts (10% of this kernel at 48 columns). Not inlined: inlined,
// GCC kept the tile's α, bias and constants in registers across the token loop and spilled an
// accumulator inside the inner loop.
template <int64_t kTokens, bool kWholeRows>
TERVIT_AVX512_VNNI __attribute__((noinline)) void narrow_tile(const uint8_t* codes, int64_t used_groups, const QuantizedTokens& q,
                                                              int64_t n, const RowTile<kNarrowRowTile>& tile,
                                                              const __mmask16* store_mask, float* y, int64_t rows) {
  constexpr int64_t kGroupBytes = kNarrowRowTile * 4;
  const int8_t* values = q.values.data() + n * q.stride;
  const float* scale = q.scale.data() + n;
  __m512i sum[kNarrowVectors][kTokens];
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t v = 0; v < kNarrowVectors; ++v) sum[v][t] = _mm512_set1_epi32(kIntegerMagicBits - q.sum[n + t]);
  for (int64_t kg = 0; kg < used_groups; ++kg) {
    __m512i c[kNarrowVectors];
    for (int64_t v = 0; v < kNarrowVectors; ++v) c[v] = _mm512_loadu_si512(codes + kg * kGroupBytes + 64 * v);
    for (int64_t t = 0; t < kTokens; ++t) {
      int32_t four;
      std::memcpy(&four, values + t * q.stride + 4 * kg, 4);
      const __m512i a = _mm512_set1_epi32(four);
      for (int64_t v = 0; v < kNarrowVectors; ++v) sum[v][t] = x86::dpbusd(sum[v][t], c[v], a);
    }
  }
  // Unrolled: a loop would index the accumulators at run time, which keeps them in memory.
#pragma GCC unroll 8
  for (int64_t t = 0; t < kTokens; ++t)
#pragma GCC unroll 2
    for (int64_t v = 0; v < kNarrowVectors; ++v) {
      const __m512 out = outputs16(sum[v][t], scale[t], tile.alpha + v * kLanes, tile.bias + v * kLanes);
      if (kWholeRows)
        _mm512_storeu_ps(y + t * rows + v * kLanes, out);
      else
        _mm512_mask_storeu_ps(y + t * rows + v * kLanes, store_mask[v], out);
    }
}

// A row tile against tokens [begin, end): tiles of 8 tokens, then the last 0-7 as a tile of 4 and single
// tokens (tiles of 8 repeating the last token multiply 56 tokens at 49, Swin's last stage at batch 1).
// y points at the row tile's first output of token 0.
template <bool kWholeRows>
TERVIT_AVX512_VNNI void narrow_token_tiles(const uint8_t* codes, int64_t used_groups, const QuantizedTokens& q, int64_t begin,
                                           int64_t end, const RowTile<kNarrowRowTile>& tile, const __mmask16* store_mask,
                                           float* y, int64_t rows) {
  int64_t n = begin;
  for (; n + kNarrowTokenTile <= end; n += kNarrowTokenTile)
    narrow_tile<kNarrowTokenTile, kWholeRows>(codes, used_groups, q, n, tile, store_mask, y + n * rows, rows);
  if (n + 4 <= end) {
    narrow_tile<4, kWholeRows>(codes, used_groups, q, n, tile, store_mask, y + n * rows, rows);
    n += 4;
  }
  for (; n < end; ++n) narrow_tile<1, kWholeRows>(codes, used_groups, q, n, tile, store_mask, y + n * rows, rows);
}

// The codes of 16 rows as a narrow tile holds them: for each group of 4 columns, 64 bytes with row l's
// 4 codes at 4l; group g at out + g · group_bytes. Each block's field holds 32 consecutive codes of a row
// (8 groups); two rows share a vector (row k and k + 8 in its halves), and an 8 x 8 transpose of 32-bit
// lanes in each half turns the 16 rows' 8 groups into the 8 groups' 16 rows. Copying each row's groups
// into place one by one took a tenth of the kernel's time.
TERVIT_AVX512_VNNI void interleave_rows16(const PackedTernaryMatrix& w, const int64_t* rows, uint8_t* out, int64_t group_bytes) {
  constexpr int64_t kGroupsPerField = 8;
  const __m512i three = _mm512_set1_epi8(3);
  // Final step: 128-bit quarters 0 and 2 of a and b (rows 0-3, 4-7, 8-11, 12-15 of the low groups), or
  // quarters 1 and 3 (the high groups).
  const __m512i low_groups = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i high_groups = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  const Block2Bit* row_blocks[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) row_blocks[l] = w.row(rows[l]);
  for (int64_t b = 0; b < w.blocks_per_row(); ++b) {
    __m512i packed[8];
    for (int64_t k = 0; k < 8; ++k) {
      const auto* low = reinterpret_cast<const __m256i*>(row_blocks[k][b].codes);
      const auto* high = reinterpret_cast<const __m256i*>(row_blocks[k + 8][b].codes);
      packed[k] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(low)), _mm256_loadu_si256(high), 1);
    }
    for (int64_t field = 0; field < 4; ++field) {
      const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(2 * field));
      __m512i z[8], pairs[8], quads[8];
      for (int64_t k = 0; k < 8; ++k) z[k] = _mm512_and_si512(_mm512_srl_epi16(packed[k], shift), three);
      for (int64_t k = 0; k < 8; k += 2) {
        pairs[k] = _mm512_unpacklo_epi32(z[k], z[k + 1]);
        pairs[k + 1] = _mm512_unpackhi_epi32(z[k], z[k + 1]);
      }
      // quads[4h + i]: group i (low quarters) and i + 4 (high quarters) of rows 4h .. 4h + 3 and 4h + 8 ..
      for (int64_t h = 0; h < 2; ++h) {
        quads[4 * h + 0] = _mm512_unpacklo_epi64(pairs[4 * h], pairs[4 * h + 2]);
        quads[4 * h + 1] = _mm512_unpackhi_epi64(pairs[4 * h], pairs[4 * h + 2]);
        quads[4 * h + 2] = _mm512_unpacklo_epi64(pairs[4 * h + 1], pairs[4 * h + 3]);
        quads[4 * h + 3] = _mm512_unpackhi_epi64(pairs[4 * h + 1], pairs[4 * h + 3]);
      }
      uint8_t* group = out + (b * Block2Bit::kTrits / 4 + field * kGroupsPerField) * group_bytes;
      for (int64_t i = 0; i < 4; ++i) {
        _mm512_storeu_si512(group + i * group_bytes, _mm512_permutex2var_epi64(quads[i], low_groups, quads[4 + i]));
        _mm512_storeu_si512(group + (i + 4) * group_bytes, _mm512_permutex2var_epi64(quads[i], high_groups, quads[4 + i]));
      }
    }
  }
}

TERVIT_AVX512_VNNI void narrow_tiles(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t chunk_begin, int64_t chunk_end,
                                     int64_t row_begin, int64_t row_end, uint8_t* codes, float* y) {
  const int64_t used_groups = (w.cols + 3) / 4;  // 4 columns per lane and step
  constexpr int64_t kGroupBytes = kNarrowRowTile * 4;
  for (int64_t r = row_begin; r < row_end; r += kNarrowRowTile) {
    const RowTile<kNarrowRowTile> tile(w, r, row_end);
    for (int64_t v = 0; v < kNarrowVectors; ++v) interleave_rows16(w, tile.rows + v * kLanes, codes + v * 64, kGroupBytes);
    __mmask16 store_mask[kNarrowVectors];
    for (int64_t v = 0; v < kNarrowVectors; ++v)
      store_mask[v] = static_cast<__mmask16>(first_lanes(row_end - r - v * kLanes, kLanes));
    if (row_end - r >= kNarrowRowTile)
      narrow_token_tiles<true>(codes, used_groups, q, chunk_begin, chunk_end, tile, store_mask, y + r, w.rows);
    else
      narrow_token_tiles<false>(codes, used_groups, q, chunk_begin, chunk_end, tile, store_mask, y + r, w.rows);
  }
}

// Sums of the lanes of 4 accumulators, as one vector (lane j: sum[j]).
TERVIT_AVX512_VNNI __m128i sum_each4(const __m512i sum[4]) {
  __m256i halves[4];
  for (int64_t j = 0; j < 4; ++j) halves[j] = _mm256_add_epi32(_mm512_castsi512_si256(sum[j]), _mm512_extracti64x4_epi64(sum[j], 1));
  const __m256i pairs = _mm256_hadd_epi32(_mm256_hadd_epi32(halves[0], halves[1]), _mm256_hadd_epi32(halves[2], halves[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(pairs), _mm256_extracti128_si256(pairs, 1));
}

// Fewer than kTokenTile tokens (a classifier head at batch 1): kRowTile rows at a time against each
// token, each block's codes taken from its bytes in registers. A block's 32 bytes fill both halves of a
// vector; masking keeps field i of each byte where it sits, 4^i · code, so a product needs no shift. Each
// lane's sum is then a multiple of its field's 4^i and is divided by it exactly (arithmetic shift) at the
// end. Fields 0 and 1 meet columns 0-63 of the block, fields 2 and 3 columns 64-127.
TERVIT_AVX512_VNNI void few_tokens(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                                   float* y) {
  const __m512i low_fields = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi8(0x03), _mm512_set1_epi8(0x0C));
  const __m512i high_fields = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi8(0x30), _mm512_set1_epi8(static_cast<char>(0xC0)));
  const __m512i low_shifts = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi32(0), _mm512_set1_epi32(2));
  const __m512i high_shifts = _mm512_mask_blend_epi64(0xF0, _mm512_set1_epi32(4), _mm512_set1_epi32(6));
  // The tokens' rows, zero-padded to whole blocks: a few tokens cost little to copy, and the loop below
  // then reads every block whole.
  const int64_t padded = w.padded_cols();
  std::vector<int8_t> tokens(static_cast<size_t>(q.tokens * padded), 0);
  for (int64_t n = 0; n < q.tokens; ++n) std::memcpy(&tokens[n * padded], &q.values[n * q.stride], static_cast<size_t>(w.cols));
  for (int64_t r = row_begin; r < row_end; r += kRowTile) {
    const RowTile<kRowTile> tile(w, r, row_end);
    const auto row_mask = static_cast<__mmask8>(first_lanes(row_end - r, kRowTile));
    const Block2Bit* blocks[kRowTile];
    for (int64_t j = 0; j < kRowTile; ++j) blocks[j] = w.row(tile.rows[j]);
    for (int64_t n = 0; n < q.tokens; ++n) {
      const int8_t* token = tokens.data() + n * padded;
      __m512i low[kRowTile], high[kRowTile];
      for (int64_t j = 0; j < kRowTile; ++j) low[j] = high[j] = _mm512_setzero_si512();
      for (int64_t b = 0; b < w.blocks_per_row(); ++b) {
        const __m512i a_low = _mm512_loadu_si512(token + b * Block2Bit::kTrits);
        const __m512i a_high = _mm512_loadu_si512(token + b * Block2Bit::kTrits + 64);
        for (int64_t j = 0; j < kRowTile; ++j) {
          const __m512i bytes = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blocks[j][b].codes)));
          low[j] = x86::dpbusd(low[j], _mm512_and_si512(bytes, low_fields), a_low);
          high[j] = x86::dpbusd(high[j], _mm512_and_si512(bytes, high_fields), a_high);
        }
      }
      __m512i sum[kRowTile];
      for (int64_t j = 0; j < kRowTile; ++j)
        sum[j] = _mm512_add_epi32(_mm512_srav_epi32(low[j], low_shifts), _mm512_srav_epi32(high[j], high_shifts));
      _mm_mask_storeu_ps(y + n * w.rows + r, row_mask, outputs4(sum_each4(sum), q.sum[n], q.scale[n], tile.alpha, tile.bias));
    }
  }
}

// Runs of 16 tokens; a last run of fewer than 8 (a batch-1 classifier head has one token) goes one token
// at a time through the AVX2 quantizer, which gives the same values, instead of repeating its last token
// over 16 lanes.
template <int64_t kFixedVectors>
TERVIT_AVX512_VNNI void quantize_runs(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                                      int32_t* sum) {
  for (int64_t n = 0; n < tokens; n += kLanes) {
    const int64_t count = std::min(kLanes, tokens - n);
    if (count < kLanes / 2)
      quantize_tokens_avx2(x + n * cols, count, cols, stride, values + n * stride, scale + n, sum + n);
    else
      x86::quantize16_rows<kFixedVectors>(x + n * cols, cols, count, cols, values + n * stride, stride, quantized_stride(cols), scale + n,
                                          sum + n);
  }
}

}  // namespace

void quantize_tokens_avx512(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                            int32_t* sum) {
  switch (cols) {
    case 16: return quantize_runs<1>(x, tokens, cols, stride, values, scale, sum);
    case 32: return quantize_runs<2>(x, tokens, cols, stride, values, scale, sum);
    case 48: return quantize_runs<3>(x, tokens, cols, stride, values, scale, sum);
    case 64: return quantize_runs<4>(x, tokens, cols, stride, values, scale, sum);
    default: return quantize_runs<0>(x, tokens, cols, stride, values, scale, sum);
  }
}

// Σ (t + 1) · q = Σ t · q + Σ q, as in the AVX2 kernel: the token's Σ q is subtracted at the end. Columns
// past w.cols hold zero activations, so the loops stop at the last step that holds one.
TERVIT_AVX512_VNNI void int8_kernel_avx512_vnni(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin,
                                                int64_t row_end, float* y) {
  if (q.tokens < kTokenTile) {
    few_tokens(w, q, row_begin, row_end, y);
    return;
  }
  const int64_t padded = w.padded_cols();
  const bool narrow = padded <= kNarrowMaxCols && q.tokens >= 4 * kNarrowTokenTile;
  // 4 rows, or 32 of <= 4096 columns; each tile writes all of it before reading it. Kept from one call to
  // the next: zeroing up to 128 KB for every product cost more than its page faults.
  thread_local ScratchVector<uint8_t> codes;
  codes.resize(static_cast<size_t>((narrow ? kNarrowRowTile : kRowTile) * padded));
  const int64_t chunk =
      narrow ? x86::chunk_tokens(q.stride, kNarrowTokenTile, kNarrowChunkBytes) : x86::chunk_tokens(q.stride, kNarrowTokenTile);
  for (int64_t chunk_begin = 0; chunk_begin < q.tokens; chunk_begin += chunk) {
    const int64_t chunk_end = std::min(q.tokens, chunk_begin + chunk);
    if (narrow)
      narrow_tiles(w, q, chunk_begin, chunk_end, row_begin, row_end, codes.data(), y);
    else
      wide_tiles(w, q, chunk_begin, chunk_end, row_begin, row_end, codes.data(), y);
  }
}

bool cpu_has_avx512_vnni() {
  return cpu_has_avx512() && __builtin_cpu_supports("avx512vnni");
}

#else  // no x86: neither is selected (cpu_has_avx512_vnni() is false)

void int8_kernel_avx512_vnni(const PackedTernaryMatrix& w, const QuantizedTokens& q, int64_t row_begin, int64_t row_end,
                             float* y) {
  int8_kernel_reference(w, q, row_begin, row_end, y);
}

void quantize_tokens_avx512(const float* x, int64_t tokens, int64_t cols, int64_t stride, int8_t* values, float* scale,
                            int32_t* sum) {
  quantize_tokens_reference(x, tokens, cols, stride, values, scale, sum);
}

bool cpu_has_avx512_vnni() { return false; }

#endif

}  // namespace tervit::kernels
