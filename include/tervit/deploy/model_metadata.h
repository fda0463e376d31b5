#pragma once
// What a model file says about itself in its safetensors metadata (strings holding JSON): the
// architecture ("family" and "config", as models::architecture_from_metadata reads them back) and the
// quantizer settings ("quant": {"weight_quant": "ternary", "delta": 0.7, "granularity": "channel", ...},
// the keys of a stage config's `weight_quant` and `quant` map in one object; the trainer's checkpoints
// record the stage shape {"weight_quant": "ternary", "quant": {"delta": 0.7, ...}}, which is read too).
#include <map>
#include <string>

#include "models/registry.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::deploy {

// {"family": "deit", "config": "{\"img_size\": 224, ...}"}: every architecture field.
std::map<std::string, std::string> architecture_metadata(const models::ModelArchitecture& architecture);

std::string quant_spec_json(const quant::QuantSpec& spec);
// Either shape, parsed as a stage config is (same names, same errors); `source` starts every error message.
quant::QuantSpec quant_spec_from_json(const std::string& json, const std::string& source);

}  // namespace tervit::deploy
