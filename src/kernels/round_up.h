#pragma once
// The multiple of `multiple` at or above `value` (both positive): the kernels' tile and padding sizes.
#include <cstdint>

namespace tervit::kernels {

inline int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace tervit::kernels
