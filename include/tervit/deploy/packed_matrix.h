#pragma once
// A ternary weight matrix in the kernels' layout: every row (output channel) packed into 2-bit blocks
// of its own, so that each row starts at a block boundary, with its scale α and an optional bias.
// This is also the 2-bit file layout, so a 2-bit file's bytes are used as they are.
#include <cstdint>
#include <vector>

#include "tervit/deploy/packed_blocks.h"

namespace tervit::deploy {

struct PackedTernaryMatrix {
  int64_t rows = 0;  // output channels
  int64_t cols = 0;  // input features
  std::vector<Block2Bit> blocks;  // rows x blocks_per_row()
  std::vector<float> alpha;       // rows
  std::vector<float> bias;        // rows, or empty

  int64_t blocks_per_row() const { return block_count<Block2Bit>(cols); }
  // Columns rounded up to whole blocks: the kernels' padded row length.
  int64_t padded_cols() const { return blocks_per_row() * Block2Bit::kTrits; }
  const Block2Bit* row(int64_t r) const { return blocks.data() + r * blocks_per_row(); }
};

// Packs a rows x cols matrix of trits (row-major, each -1, 0 or 1); alpha and bias are left empty.
PackedTernaryMatrix pack_matrix(const int8_t* trits, int64_t rows, int64_t cols);

}  // namespace tervit::deploy
