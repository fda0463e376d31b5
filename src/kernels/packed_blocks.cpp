#include "tervit/kernels/packed_blocks.h"

namespace tervit::kernels {

namespace {

constexpr int kLanes = 32;  // bytes per block; trit 32i + j sits in byte j
constexpr uint8_t kPowersOfThree[5] = {1, 3, 9, 27, 81};

// The code of trit `index` of a run of `count`, padding included.
uint8_t code_at(const int8_t* trits, int64_t count, int64_t index) {
  return static_cast<uint8_t>(index < count ? trits[index] + 1 : 1);
}

// Shared by both formats: decodes every trit of the blocks (padding too) and checks it.
template <typename Block, typename Decode>
bool unpack(const Block* blocks, int64_t count, int8_t* trits, Decode decode) {
  bool well_formed = true;
  for (int64_t b = 0; b < block_count<Block>(count); ++b) {
    for (int64_t i = 0; i < Block::kTrits / kLanes; ++i) {
      for (int j = 0; j < kLanes; ++j) {
        const int code = decode(blocks[b].codes[j], i);
        const int64_t index = b * Block::kTrits + i * kLanes + j;
        const bool valid = code <= 2 && (index < count || code == 1);
        well_formed = well_formed && valid;
        if (index < count) trits[index] = static_cast<int8_t>(valid ? code - 1 : 0);
      }
    }
  }
  return well_formed;
}

}  // namespace

void pack_2bit(const int8_t* trits, int64_t count, Block2Bit* blocks) {
  for (int64_t b = 0; b < block_count<Block2Bit>(count); ++b) {
    for (int j = 0; j < kLanes; ++j) {
      uint8_t byte = 0;
      for (int i = 0; i < 4; ++i) byte |= code_at(trits, count, b * Block2Bit::kTrits + i * kLanes + j) << (2 * i);
      blocks[b].codes[j] = byte;
    }
  }
}

void pack_1_6bit(const int8_t* trits, int64_t count, Block1_6Bit* blocks) {
  for (int64_t b = 0; b < block_count<Block1_6Bit>(count); ++b) {
    for (int j = 0; j < kLanes; ++j) {
      int byte = 0;
      for (int i = 0; i < 5; ++i) byte += code_at(trits, count, b * Block1_6Bit::kTrits + i * kLanes + j) * kPowersOfThree[i];
      blocks[b].codes[j] = static_cast<uint8_t>(byte);
    }
  }
}

bool unpack_2bit(const Block2Bit* blocks, int64_t count, int8_t* trits) {
  return unpack(blocks, count, trits, [](uint8_t byte, int64_t i) { return (byte >> (2 * i)) & 3; });
}

bool unpack_1_6bit(const Block1_6Bit* blocks, int64_t count, int8_t* trits) {
  // A byte >= 243 is no base-3 number of 5 digits: its top digit comes out as 3, which unpack rejects.
  return unpack(blocks, count, trits, [](uint8_t byte, int64_t i) { return i < 4 ? byte / kPowersOfThree[i] % 3 : byte / 81; });
}

}  // namespace tervit::kernels
