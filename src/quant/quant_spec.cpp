#include "tervit/quant/quant_spec.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tervit/core/closest_match.h"
#include "tervit/core/command_line.h"
#include "tervit/core/error.h"
#include "tervit/quant/int8.h"
#include "tervit/quant/quant_layers.h"
#include "tervit/quant/ternary.h"

namespace tervit::quant {

namespace {

// A command-line option taking one of `table`'s names; a wrong name is reported like a config's.
template <typename Enum>
void add_choice_option(CLI::App& app, const std::string& flag, Enum& target, const NameTable<Enum>& table, const std::string& description) {
  const auto parse = [&target, &table, flag](const std::string& value) {
    try {
      target = table.parse(value, flag);
    } catch (const Error& e) {
      throw CLI::ValidationError(e.what());  // CLI11 reports it and run_app exits with code 2
    }
  };
  app.add_option_function<std::string>(flag, parse, description + ": " + table.joined())->default_str(table.name(target));
}

template <typename T>
T read_value(const YAML::Node& node, const std::string& key, const std::string& expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    throw Error(key + ": expected " + expected + ", got '" + YAML::Dump(node) + "'");
  }
}

const std::vector<std::string>& quant_keys() {
  static const std::vector<std::string> keys{"delta", "granularity", "learnable_alpha", "lsq",
                                             "activation", "keep_first_last", "include", "exclude"};
  return keys;
}

}  // namespace

const NameTable<WeightQuant>& weight_quant_names() {
  static const NameTable<WeightQuant> table{{"fp", WeightQuant::kFp}, {"int8", WeightQuant::kInt8}, {"ternary", WeightQuant::kTernary}};
  return table;
}

const NameTable<Granularity>& granularity_names() {
  static const NameTable<Granularity> table{{"channel", Granularity::kChannel}, {"layer", Granularity::kLayer}};
  return table;
}

const NameTable<ActivationQuant>& activation_quant_names() {
  static const NameTable<ActivationQuant> table{
      {"none", ActivationQuant::kNone}, {"lsq", ActivationQuant::kLsq}, {"absmax_token", ActivationQuant::kAbsmaxToken}};
  return table;
}

QuantSpec quant_spec_from_yaml(const YAML::Node& stage, const std::string& label) {
  QuantSpec spec;
  if (const auto name = stage["weight_quant"])
    spec.weight_quant(weight_quant_names().parse(read_value<std::string>(name, label + "weight_quant", "a name"), label + "weight_quant"));
  const auto quant = stage["quant"];
  if (!quant || quant.IsNull()) return spec;
  if (!quant.IsMap()) throw Error(label + "quant: expected a map of quantizer options (delta, granularity, ...)");
  for (const auto& item : quant) {
    const auto key = item.first.as<std::string>();
    const auto full = label + "quant." + key;
    if (std::find(quant_keys().begin(), quant_keys().end(), key) == quant_keys().end())
      throw Error(full + ": unknown key" + did_you_mean(key, quant_keys()));
    const auto& value = item.second;
    if (key == "delta") {
      spec.delta(read_value<double>(value, full, "a number"));
      if (!(spec.delta() > 0) || !std::isfinite(spec.delta())) throw Error(full + ": must be a positive number, got " + YAML::Dump(value));
    } else if (key == "granularity") {
      spec.granularity(granularity_names().parse(read_value<std::string>(value, full, "a name"), full));
    } else if (key == "activation") {
      spec.activation(activation_quant_names().parse(read_value<std::string>(value, full, "a name"), full));
    } else if (key == "learnable_alpha") {
      spec.learnable_alpha(read_value<bool>(value, full, "true or false"));
    } else if (key == "lsq") {
      spec.lsq(read_value<bool>(value, full, "true or false"));
    } else if (key == "keep_first_last") {
      spec.keep_first_last(read_value<bool>(value, full, "true or false"));
    } else if (key == "include") {
      spec.include(read_value<std::vector<std::string>>(value, full, "a list of layer name patterns"));
    } else {
      spec.exclude(read_value<std::vector<std::string>>(value, full, "a list of layer name patterns"));
    }
  }
  return spec;
}

void add_quant_options(CLI::App& app, QuantSpec& spec) {
  add_choice_option(app, "--weight-quant", spec.weight_quant(), weight_quant_names(), "weight quantizer applied to the loaded model");
  app.add_option("--delta", spec.delta(), "ternary threshold factor: Δ = delta·mean|W|")->check(finite_in(1e-6, 1e3))->capture_default_str();
  add_choice_option(app, "--granularity", spec.granularity(), granularity_names(), "one scale per output channel or per layer");
  add_choice_option(app, "--activation-quant", spec.activation(), activation_quant_names(), "8-bit inputs of quantized linears");
  app.add_flag("--keep-first-last", spec.keep_first_last(), "keep the patch embedding and the head(s) in full precision");
  app.add_option("--quant-include", spec.include(), "quantize only layers matching these globs (e.g. 'blocks.*')");
  app.add_option("--quant-exclude", spec.exclude(), "keep layers matching these globs in full precision");
}

std::string describe(const QuantSpec& spec) {
  std::ostringstream text;
  text << weight_quant_names().name(spec.weight_quant());
  if (spec.weight_quant() != WeightQuant::kFp) {
    text << " (" << granularity_names().name(spec.granularity()) << "-wise";
    if (spec.weight_quant() == WeightQuant::kTernary) text << ", delta " << spec.delta() << (spec.learnable_alpha() ? ", learnable alpha" : "");
    if (spec.weight_quant() == WeightQuant::kInt8 && spec.lsq()) text << ", LSQ";
    text << ")";
  }
  if (spec.activation() != ActivationQuant::kNone) text << ", 8-bit inputs (" << activation_quant_names().name(spec.activation()) << ")";
  if (spec.keep_first_last()) text << ", first and last layers in full precision";
  return text.str();
}

WeightQuantizerPtr make_weight_quantizer(const QuantSpec& spec, const torch::Tensor& latent_weight) {
  switch (spec.weight_quant()) {
    case WeightQuant::kInt8:
      return std::make_shared<Int8Quantizer>(Int8Options().granularity(spec.granularity()).lsq(spec.lsq()), latent_weight);
    case WeightQuant::kTernary:
      return std::make_shared<TernaryQuantizer>(
          TernaryOptions().delta(spec.delta()).granularity(spec.granularity()).learnable_alpha(spec.learnable_alpha()), latent_weight);
    case WeightQuant::kFp: break;
  }
  return nullptr;
}

std::string quant_spec_json(const QuantSpec& spec) {
  return nlohmann::json{{"weight_quant", weight_quant_names().name(spec.weight_quant())},
              {"delta", spec.delta()},
              {"granularity", granularity_names().name(spec.granularity())},
              {"learnable_alpha", spec.learnable_alpha()},
              {"lsq", spec.lsq()},
              {"activation", activation_quant_names().name(spec.activation())},
              {"keep_first_last", spec.keep_first_last()},
              {"include", spec.include()},
              {"exclude", spec.exclude()}}
      .dump();
}

QuantSpec quant_spec_from_json(const std::string& text, const std::string& source) {
  YAML::Node fields;
  try {
    fields = YAML::Load(text);  // JSON is YAML
  } catch (const YAML::Exception& e) {
    throw Error(source + ": quant settings are not valid JSON: " + e.msg);
  }
  if (!fields.IsMap()) throw Error(source + ": quant settings must be a JSON object, got '" + text + "'");
  // The trainer's checkpoints record the stage-config shape itself: {"weight_quant": ..., "quant": {...}}.
  if (fields["quant"].IsMap()) return quant_spec_from_yaml(fields, source + ": ");
  // The flat shape, turned into the stage-config shape: weight_quant beside a map of the other keys.
  YAML::Node stage, options(YAML::NodeType::Map);
  for (const auto& item : fields) {
    const auto key = item.first.as<std::string>();
    if (key == "weight_quant")
      stage["weight_quant"] = item.second;
    else
      options[key] = item.second;
  }
  stage["quant"] = options;
  return quant_spec_from_yaml(stage, source + ": ");
}

}  // namespace tervit::quant
