#include "tervit/quant/weight_quantizer.h"

#include "tervit/core/error.h"

namespace tervit::quant {

torch::Tensor WeightQuantizer::quantize_rows(const torch::Tensor&) const {
  throw Error("weight quantizer " + name() + " maps no rows on their own (its row_function is empty)");
}

}  // namespace tervit::quant
