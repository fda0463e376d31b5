#pragma once
// The evaluation preprocessing a packed file records (metadata "preprocess", written by tervit-export from
// the training run's data section), read and checked the same way by the LibTorch loader and the
// LibTorch-free runtime.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tervit/image/eval_crop.h"

namespace tervit::image {

// An object of the run config's data keys crop_pct, interpolation, mean and std, each checked as the
// config checks it; null when the metadata has none. Throws tervit::Error naming `source` and the key.
nlohmann::json read_preprocess(const std::map<std::string, std::string>& metadata, const std::string& source);

// `options` with the values a read_preprocess result holds (null: `options` as they are).
EvalTransformOptions with_preprocess(EvalTransformOptions options, const nlohmann::json& preprocess);

}  // namespace tervit::image
