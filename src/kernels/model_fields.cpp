#include "tervit/kernels/model_fields.h"

#include <algorithm>
#include <map>

namespace tervit::kernels {

const std::vector<ModelField>* model_fields(const std::string& family) {
  using R = FieldRule;
  static const std::map<std::string, std::vector<ModelField>> families{
      {"deit",
       {{"img_size", R::kImageSide}, {"patch_size", R::kPositive}, {"in_chans", R::kPositive}, {"num_classes", R::kNonNegative},
        {"embed_dim", R::kPositive}, {"mlp_ratio", R::kAboveZero}, {"qkv_bias", R::kFlag}, {"depth", R::kNonNegative},
        {"num_heads", R::kPositive}, {"distilled", R::kFlag}, {"drop_rate", R::kRate}, {"pos_drop_rate", R::kRate},
        {"proj_drop_rate", R::kRate}, {"attn_drop_rate", R::kRate}, {"drop_path_rate", R::kRate}}},
      {"swin",
       {{"img_size", R::kImageSide}, {"patch_size", R::kPositive}, {"in_chans", R::kPositive}, {"num_classes", R::kNonNegative},
        {"embed_dim", R::kPositive}, {"mlp_ratio", R::kAboveZero}, {"qkv_bias", R::kFlag}, {"depths", R::kStageList},
        {"num_heads", R::kStageHeads}, {"window_size", R::kPositive}, {"drop_rate", R::kRate}, {"attn_drop_rate", R::kRate},
        {"drop_path_rate", R::kRate}}},
  };
  const auto found = families.find(family);
  return found == families.end() ? nullptr : &found->second;
}

std::string field_violation(FieldRule rule, const nlohmann::json& value) {
  const auto integer_at_least = [](const nlohmann::json& v, int64_t min) { return v.is_number_integer() && v.get<int64_t>() >= min; };
  const auto stages = [&](int64_t min) {
    return value.is_array() && !value.empty() && value.size() <= 8 &&
           std::all_of(value.begin(), value.end(), [&](const auto& v) { return integer_at_least(v, min); });
  };
  switch (rule) {
    case FieldRule::kPositive: return integer_at_least(value, 1) ? "" : "a positive integer";
    case FieldRule::kImageSide:
      return integer_at_least(value, 1) && value.get<int64_t>() <= kMaxImageSide ? "" : "an integer from 1 to " + std::to_string(kMaxImageSide);
    case FieldRule::kNonNegative: return integer_at_least(value, 0) ? "" : "a non-negative integer";
    case FieldRule::kAboveZero: return value.is_number() && value.get<double>() > 0 ? "" : "a number above 0";
    case FieldRule::kRate:
      return value.is_number() && value.get<double>() >= 0 && value.get<double>() <= 1 ? "" : "a number between 0 and 1";
    case FieldRule::kFlag: return value.is_boolean() ? "" : "true or false";
    case FieldRule::kStageList: return stages(0) ? "" : "1 to 8 non-negative integers";
    case FieldRule::kStageHeads: return stages(1) ? "" : "1 to 8 positive integers";
  }
  return "a valid value";
}

}  // namespace tervit::kernels
