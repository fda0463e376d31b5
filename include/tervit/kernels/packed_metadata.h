#pragma once
// What a packed model file (packed_format.h) is recognised by, read free of LibTorch, so that the LibTorch
// reader (packed_model.h) and the runtime (tervit/runtime) check a file by the same rules and words.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tervit/kernels/packed_matrix.h"

namespace tervit::kernels {

inline const std::string kPackedFormat = "tervit-packed-ternary";
inline const std::string kPackedFormatVersion = "1";
inline const std::string kPackedWeightSuffix = ".weight.packed";
inline const std::string kAlphaSuffix = ".alpha";

using Metadata = std::map<std::string, std::string>;

// metadata[key]; its absence is a tervit::Error saying that `source` is not a packed tervit model.
const std::string& required_metadata(const Metadata& metadata, const std::string& key, const std::string& source);

// Checks the format and its version, and returns the packing ("bits"); tervit::Errors name `source`.
PackedBits read_packed_bits(const Metadata& metadata, const std::string& source);

// How many α a packed layer of `rows` output channels holds: `rows` channel-wise, 1 layer-wise, as the
// "granularity" of the file's quantizer ("quant" metadata, in its flat or stage shape; channel when absent)
// says. One rule for the LibTorch loader and the runtime.
int64_t packed_alpha_count(const Metadata& metadata, int64_t rows, const std::string& source);

// The optional "class_names" (a JSON array of num_classes strings); empty when the file has none.
std::vector<std::string> class_names_from_metadata(const Metadata& metadata, int64_t num_classes, const std::string& source);

}  // namespace tervit::kernels
