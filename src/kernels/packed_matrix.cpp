#include "tervit/kernels/packed_matrix.h"

#include <cmath>
#include <utility>
#include <vector>

#include "tervit/core/error.h"
#include "tervit/core/safetensors_header.h"

namespace tervit::kernels {

PackedTernaryMatrix pack_matrix(const int8_t* trits, int64_t rows, int64_t cols) {
  PackedTernaryMatrix matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  auto blocks = std::make_shared<std::vector<Block2Bit>>(static_cast<size_t>(matrix.total_blocks()));
  for (int64_t r = 0; r < rows; ++r) pack_2bit(trits + r * cols, cols, blocks->data() + r * matrix.blocks_per_row());
  matrix.blocks = blocks->data();
  matrix.storage = std::move(blocks);
  return matrix;
}

const NameTable<PackedBits>& packed_bits_names() {
  static const NameTable<PackedBits> table{{"2", PackedBits::k2}, {"1.6", PackedBits::k1_6}};
  return table;
}

std::vector<int64_t> packed_shape(int64_t rows, int64_t cols, PackedBits bits) {
  constexpr int64_t kBlockBytes = 32;
  if (bits == PackedBits::k2) return {rows, block_count<Block2Bit>(cols) * kBlockBytes};
  return {block_count<Block1_6Bit>(rows * cols) * kBlockBytes};
}

PackedTernaryMatrix read_packed_matrix(const std::vector<int64_t>& shape, const uint8_t* bytes, PackedBits bits,
                                       int64_t rows, int64_t cols, const std::string& where, std::shared_ptr<const void> owner) {
  const auto expected = packed_shape(rows, cols, bits);
  if (shape != expected)
    throw Error(where + " has shape " + shape_text(shape) + ", but " + packed_bits_names().name(bits) + "-bit packing of its " +
                std::to_string(rows) + " x " + std::to_string(cols) + " layer takes " + shape_text(expected) +
                " (a wrong block count, or metadata that disagrees with the tensors)");
  bool well_formed = true;
  PackedTernaryMatrix matrix;
  if (bits == PackedBits::k2) {
    matrix.rows = rows;
    matrix.cols = cols;
    // The 2-bit file layout is the kernels' (Block2Bit is 32 plain bytes, alignment 1).
    matrix.blocks = reinterpret_cast<const Block2Bit*>(bytes);
    if (owner) {
      matrix.storage = std::move(owner);
    } else {
      auto copy = std::make_shared<std::vector<Block2Bit>>(matrix.blocks, matrix.blocks + matrix.total_blocks());
      matrix.blocks = copy->data();
      matrix.storage = std::move(copy);
    }
    std::vector<int8_t> trits(static_cast<size_t>(cols));
    for (int64_t r = 0; r < rows && well_formed; ++r) well_formed = unpack_2bit(matrix.row(r), cols, trits.data());
  } else {
    // The kernels need row-aligned blocks: repack the row-major trits (integers only, no float matrix).
    std::vector<int8_t> trits(static_cast<size_t>(rows * cols));
    well_formed = unpack_1_6bit(reinterpret_cast<const Block1_6Bit*>(bytes), rows * cols, trits.data());
    matrix = pack_matrix(trits.data(), rows, cols);
  }
  if (!well_formed) throw Error(where + " holds a byte that is no packed trits (or nonzero padding)");
  return matrix;
}

void check_alpha_values(const std::vector<float>& alpha, const std::string& where) {
  for (size_t row = 0; row < alpha.size(); ++row)
    if (!std::isfinite(alpha[row]) || alpha[row] < 0)
      throw Error(where + ": scale α of row " + std::to_string(row) + " is " + std::to_string(alpha[row]) +
                  ", expected a finite number >= 0");
}

}  // namespace tervit::kernels
