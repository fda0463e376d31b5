#pragma once
// The packed ternary model file, a safetensors container (so that standard tools open it):
//   <layer>.weight.packed  U8   2 bits:   [rows, blocks_per_row · 32], each row its own run of Block2Bit
//                                         (the kernels' layout, used as it is)
//                               1.6 bits: [ceil(rows · cols / 160) · 32], the matrix's trits row-major in
//                                         Block1_6Bit blocks (no per-row padding: the smallest file)
//   <layer>.alpha          F16  [rows] channel-wise, [1] layer-wise
//   every other tensor under its timm name (biases, norms, embeddings, tokens, position tables, and the
//   matrices left in full precision), F16 or F32
// and the metadata: format, format_version, bits ("2" or "1.6"), family + config (the architecture),
// quant (the quantizer settings, model_metadata.h), class_names (a JSON array, optional), preprocess
// (optional: the training run's eval preprocessing, a JSON object of crop_pct, interpolation, mean, std).
// A layer's rows and cols are those of its weight (a conv's flattened to C_out x C_in·k·k).
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/kernels/packed_metadata.h"
#include "tervit/kernels/packed_matrix.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::deploy {

// The packed tensor of a rows x cols matrix of trits (row-major, each -1, 0 or 1).
torch::Tensor pack_trits(const int8_t* trits, int64_t rows, int64_t cols, kernels::PackedBits bits);

struct PackOptions {
  kernels::PackedBits bits = kernels::PackedBits::k2;
  torch::ScalarType float_dtype = torch::kFloat16;  // of every tensor but the packed ones and α (F16)
  std::vector<std::string> class_names;              // stored when not empty
  nlohmann::json preprocess;                         // the run's crop_pct, interpolation, mean, std; stored when not null
};

// The file's tensors and metadata for `model`, whose quantizable layers carry the ternary quantizers
// (or none: full precision) that models::apply_quant_spec(model, spec) gave them. A layer with another
// quantizer (int8) is a tervit::Error.
SafetensorsData pack_model(models::VisionModelImpl& model, const models::ModelArchitecture& architecture,
                           const quant::QuantSpec& spec, const PackOptions& options);

}  // namespace tervit::deploy
