#pragma once
// Ternary weights packed into plain blocks (as ggml's quant blocks), for files and for the kernels.
// A trit t in {-1, 0, 1} is stored as the code t + 1 in {0, 1, 2}.
//   2 bits:   Block2Bit holds 128 trits in 32 bytes; byte j, bits 2i..2i+1 hold trit 32i + j (i = 0..3),
//             so one shift and mask of the 32 bytes yields 32 consecutive codes (what AVX2 loads).
//   1.6 bits: Block1_6Bit holds 160 trits in 32 bytes; byte j holds trits 32i + j (i = 0..4) as the
//             base-3 number sum_i code_i * 3^i (3^5 = 243 <= 256).
// n trits take ceil(n / kTrits) blocks; the trits past n are 0 (code 1).
#include <cstdint>

namespace tervit::kernels {

struct Block2Bit {
  static constexpr int64_t kTrits = 128;
  uint8_t codes[32];
};
static_assert(sizeof(Block2Bit) == 32 && alignof(Block2Bit) == 1, "Block2Bit is 32 plain bytes");

struct Block1_6Bit {
  static constexpr int64_t kTrits = 160;
  uint8_t codes[32];
};
static_assert(sizeof(Block1_6Bit) == 32 && alignof(Block1_6Bit) == 1, "Block1_6Bit is 32 plain bytes");

template <typename Block>
constexpr int64_t block_count(int64_t trits) {
  return (trits + Block::kTrits - 1) / Block::kTrits;
}

// Reference packing of `count` trits (each -1, 0 or 1) into block_count(count) blocks.
void pack_2bit(const int8_t* trits, int64_t count, Block2Bit* blocks);
void pack_1_6bit(const int8_t* trits, int64_t count, Block1_6Bit* blocks);

// Reference unpacking of the first `count` trits. Returns whether the blocks are well formed: every
// code a trit (not 3, not >= 243) and every padding trit past `count` zero. Bad codes unpack as 0.
bool unpack_2bit(const Block2Bit* blocks, int64_t count, int8_t* trits);
bool unpack_1_6bit(const Block1_6Bit* blocks, int64_t count, int8_t* trits);

}  // namespace tervit::kernels
