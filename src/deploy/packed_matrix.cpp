#include "tervit/deploy/packed_matrix.h"

namespace tervit::deploy {

PackedTernaryMatrix pack_matrix(const int8_t* trits, int64_t rows, int64_t cols) {
  PackedTernaryMatrix matrix;
  matrix.rows = rows;
  matrix.cols = cols;
  matrix.blocks.resize(static_cast<size_t>(rows * matrix.blocks_per_row()));
  for (int64_t r = 0; r < rows; ++r) pack_2bit(trits + r * cols, cols, matrix.blocks.data() + r * matrix.blocks_per_row());
  return matrix;
}

}  // namespace tervit::deploy
