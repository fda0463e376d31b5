#pragma once
// The architecture fields a model file records in its "config" metadata, per family, each with the rule its
// value obeys. One list, LibTorch-free, read by the LibTorch models (models/registry.cpp checks overrides and
// metadata by it) and by the runtime (runtime/architecture.cpp), so that both accept the same files.
// Rules between fields (divisibility, matching lengths) are the readers' own: they depend on the network.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tervit::kernels {

enum class FieldRule {
  kPositive,     // an integer >= 1
  kImageSide,    // an integer from 1 to kMaxImageSide
  kNonNegative,  // an integer >= 0
  kAboveZero,    // a number > 0
  kRate,         // a number in [0, 1]
  kFlag,         // true or false
  kStageList,    // 1 to 8 integers >= 0 (one per stage)
  kStageHeads,   // 1 to 8 integers >= 1 (one per stage)
};

// The largest img_size a model file may record. Real models stay far below (timm's largest are 1024 or so);
// a larger side comes from corrupt metadata, which Swin's tensors do not tie to any shape, and whose
// activations would outgrow any memory (a side of 917504 was seen to end in std::bad_alloc).
constexpr int64_t kMaxImageSide = 16384;

struct ModelField {
  std::string name;
  FieldRule rule;
};

// The fields of "deit" or "swin", in the order readers check them; nullptr for another family.
const std::vector<ModelField>* model_fields(const std::string& family);

// "" when `value` obeys `rule`, else what was expected ("a positive integer", ...).
std::string field_violation(FieldRule rule, const nlohmann::json& value);

}  // namespace tervit::kernels
