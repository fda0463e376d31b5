#include "tervit/image/preprocess_metadata.h"

#include <algorithm>
#include <sstream>

#include "tervit/core/error.h"

namespace tervit::image {

nlohmann::json read_preprocess(const std::map<std::string, std::string>& metadata, const std::string& source) {
  const auto found = metadata.find("preprocess");
  if (found == metadata.end()) return nullptr;
  const auto preprocess = nlohmann::json::parse(found->second, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&](const std::string& what) { return Error(source + ": metadata 'preprocess' " + what); };
  if (!preprocess.is_object()) throw bad("is not a JSON object");
  for (const auto& [key, value] : preprocess.items()) {
    if (key == "crop_pct") {
      if (!value.is_number() || value.get<double>() < kMinCropPct || value.get<double>() > 1) {
        std::ostringstream range;
        range << "crop_pct is not a number from " << kMinCropPct << " to 1";
        throw bad(range.str());
      }
    } else if (key == "interpolation") {
      if (!value.is_string()) throw bad("interpolation is not a string");
      with_context(source + ": metadata 'preprocess'", [&] { return interpolation_names().parse(value.get<std::string>(), "interpolation"); });
    } else if (key == "mean" || key == "std") {
      const bool ok = value.is_array() && value.size() == 3 && std::all_of(value.begin(), value.end(), [&](const auto& v) {
                        return v.is_number() && (key == "mean" || v.template get<double>() > 0);
                      });
      if (!ok) throw bad(key + " is not 3 numbers" + (key == "std" ? " above 0" : ""));
    } else {
      throw bad("has an unknown key '" + key + "' (known: crop_pct, interpolation, mean, std)");
    }
  }
  return preprocess;
}

EvalTransformOptions with_preprocess(EvalTransformOptions options, const nlohmann::json& preprocess) {
  if (preprocess.is_null()) return options;
  if (preprocess.contains("crop_pct")) options.crop_pct = preprocess["crop_pct"].get<double>();
  if (preprocess.contains("interpolation")) options.interpolation = interpolation_names().parse(preprocess["interpolation"].get<std::string>(), "interpolation");
  if (preprocess.contains("mean")) options.mean = preprocess["mean"].get<std::array<float, 3>>();
  if (preprocess.contains("std")) options.std = preprocess["std"].get<std::array<float, 3>>();
  return options;
}

}  // namespace tervit::image
