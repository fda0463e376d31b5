#pragma once
// The names a packed model file (packed_format.h) is read by, free of LibTorch for the runtime's reader.
#include <string>

namespace tervit::deploy {

inline const std::string kPackedFormat = "tervit-packed-ternary";
inline const std::string kPackedFormatVersion = "1";
inline const std::string kPackedWeightSuffix = ".weight.packed";
inline const std::string kAlphaSuffix = ".alpha";

}  // namespace tervit::deploy
