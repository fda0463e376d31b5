#pragma once
// What a training stage (or a post-training run) quantizes and how: the weight quantizer with its
// options, optional 8-bit input activations, and which layers. Parsed from a stage config
// (`weight_quant: ternary`, `quant: {delta: 0.7, granularity: channel, ...}`) or from command-line
// options. models/apply_quant_spec.h applies it to a model.
#include <CLI/CLI.hpp>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <utility>
#include <vector>

#include "tervit/core/name_table.h"
#include "tervit/quant/granularity.h"
#include "tervit/quant/weight_quantizer.h"

namespace tervit::quant {

enum class WeightQuant { kFp, kInt8, kTernary };
enum class ActivationQuant { kNone, kLsq, kAbsmaxToken };

// Names as configs and command lines spell them.
const NameTable<WeightQuant>& weight_quant_names();
const NameTable<Granularity>& granularity_names();
const NameTable<ActivationQuant>& activation_quant_names();

struct QuantSpec {
  TORCH_ARG(WeightQuant, weight_quant) = WeightQuant::kFp;
  TORCH_ARG(double, delta) = 0.7;  // ternary threshold factor (TWN)
  TORCH_ARG(Granularity, granularity) = Granularity::kChannel;
  TORCH_ARG(bool, learnable_alpha) = false;  // ternary
  TORCH_ARG(bool, lsq) = false;              // int8: learned step
  TORCH_ARG(ActivationQuant, activation) = ActivationQuant::kNone;
  // The first layer (patch embedding) and the classifier head(s) stay in full precision.
  TORCH_ARG(bool, keep_first_last) = false;
  // Glob patterns (`*` any run of characters, `?` one) on dotted layer names ("blocks.*.mlp.fc1").
  // A layer is quantized when it matches an include pattern (none given: every layer) and no exclude.
  TORCH_ARG(std::vector<std::string>, include);
  TORCH_ARG(std::vector<std::string>, exclude);
};

// The `weight_quant` key and `quant` map of a stage config; other stage keys are ignored. An unknown
// key or value, or a wrong type, is a tervit::Error naming it (with the closest known name); `label`
// prefixes the names in messages ("stages[1].").
QuantSpec quant_spec_from_yaml(const YAML::Node& stage, const std::string& label = "");

// --weight-quant, --delta, --granularity, --activation-quant, --keep-first-last, --quant-include,
// --quant-exclude, writing into `spec`.
void add_quant_options(CLI::App& app, QuantSpec& spec);

// The spec as model files record it in their "quant" metadata: {"weight_quant": "ternary", "delta": 0.7,
// "granularity": "channel", ...}, the keys of a stage config's `weight_quant` and `quant` map in one object.
std::string quant_spec_json(const QuantSpec& spec);
// That flat shape, or the stage shape the trainer's checkpoints record ({"weight_quant": "ternary", "quant":
// {"delta": 0.7, ...}}), parsed as a stage config is (same names, same errors); `source` starts every error.
QuantSpec quant_spec_from_json(const std::string& json, const std::string& source);

// "ternary (delta 0.7, channel-wise)"-style summary for logs.
std::string describe(const QuantSpec& spec);

// The spec's weight quantizer for a layer whose latent weight is `latent_weight` (null for fp).
WeightQuantizerPtr make_weight_quantizer(const QuantSpec& spec, const torch::Tensor& latent_weight);

}  // namespace tervit::quant
