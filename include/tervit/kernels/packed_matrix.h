#pragma once
// A ternary weight matrix in the kernels' layout: every row (output channel) packed into 2-bit blocks
// of its own, so that each row starts at a block boundary, with its scale α and an optional bias.
// This is also the 2-bit file layout, so a 2-bit file's bytes are used as they are.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tervit/kernels/packed_blocks.h"
#include "tervit/core/name_table.h"

namespace tervit::kernels {

struct PackedTernaryMatrix {
  int64_t rows = 0;  // output channels
  int64_t cols = 0;  // input features
  // rows x blocks_per_row() blocks, never written after packing, kept alive by `storage`: the matrix's
  // own copy, or a 2-bit file's bytes used in place (read_packed_matrix with an owner). Copies of the
  // matrix share them.
  const Block2Bit* blocks = nullptr;
  std::shared_ptr<const void> storage;
  std::vector<float> alpha;  // rows
  std::vector<float> bias;   // rows, or empty

  int64_t blocks_per_row() const { return block_count<Block2Bit>(cols); }
  int64_t total_blocks() const { return rows * blocks_per_row(); }
  // Columns rounded up to whole blocks: the kernels' padded row length.
  int64_t padded_cols() const { return blocks_per_row() * Block2Bit::kTrits; }
  const Block2Bit* row(int64_t r) const { return blocks + r * blocks_per_row(); }
};

// Packs a rows x cols matrix of trits (row-major, each -1, 0 or 1); alpha and bias are left empty.
PackedTernaryMatrix pack_matrix(const int8_t* trits, int64_t rows, int64_t cols);

// How a packed file stores a matrix's trits (packed_format.h): 2 bits in the kernels' layout, or 1.6 bits.
enum class PackedBits { k2, k1_6 };

// "2" and "1.6" (bits per weight).
const NameTable<PackedBits>& packed_bits_names();

// The shape of the U8 tensor holding a rows x cols matrix of trits.
std::vector<int64_t> packed_shape(int64_t rows, int64_t cols, PackedBits bits);

// The kernels' matrix (alpha and bias left empty) from a packed tensor of shape `shape` whose bytes start
// at `bytes`. A 2-bit matrix given the bytes' `owner` uses them in place and keeps the owner alive;
// otherwise, and for 1.6 bits (repacked), the matrix holds its own blocks. A shape that is not
// packed_shape(rows, cols, bits) is a tervit::Error before any byte is read; a byte that is no packed
// trits (or nonzero padding) is one after. Errors start with `where`.
PackedTernaryMatrix read_packed_matrix(const std::vector<int64_t>& shape, const uint8_t* bytes, PackedBits bits,
                                       int64_t rows, int64_t cols, const std::string& where,
                                       std::shared_ptr<const void> owner = nullptr);

// Throws tervit::Error starting with `where` when a scale α is NaN, infinite or negative: each would turn
// every output of its channel into NaN or flip its sign, silently.
void check_alpha_values(const std::vector<float>& alpha, const std::string& where);

}  // namespace tervit::kernels
