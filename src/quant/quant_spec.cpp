#include "tervit/quant/quant_spec.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tervit/core/closest_match.h"
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

// `*` matches any run of characters (dots included), `?` any one character.
bool glob_match(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, star_n = n;
    } else if (star != std::string::npos) {
      p = star + 1, n = ++star_n;  // let the last `*` swallow one more character
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const auto& pattern) { return glob_match(pattern, name); });
}

// Layers that keep_first_last leaves in full precision: the first quantizable layer (the patch
// embedding) and the classifier head(s).
bool is_first_or_last(const std::string& name, const std::string& first, const models::VisionModelImpl& model) {
  const auto prefixes = model.classifier_prefixes();
  return name == first || std::any_of(prefixes.begin(), prefixes.end(), [&](const auto& prefix) { return name + "." == prefix; });
}

ActivationQuantizerPtr make_input_quantizer(const QuantSpec& spec, const torch::Tensor& latent_weight) {
  switch (spec.activation()) {
    case ActivationQuant::kLsq: return std::make_shared<LsqActivationQuantizer>(latent_weight.options());
    case ActivationQuant::kAbsmaxToken: return std::make_shared<AbsmaxTokenQuantizer>();
    case ActivationQuant::kNone: break;
  }
  return nullptr;
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
  app.add_option("--delta", spec.delta(), "ternary threshold factor: Δ = delta·mean|W|")->check(CLI::PositiveNumber)->capture_default_str();
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

std::vector<std::string> apply_quant_spec(models::VisionModelImpl& model, const QuantSpec& spec) {
  const auto layers = quantizable_layers(model);
  const auto first = layers.empty() ? std::string() : layers.front().first;
  std::vector<std::string> selected;
  for (const auto& [name, layer] : layers) {
    const bool wanted = (spec.include().empty() || matches_any(spec.include(), name)) && !matches_any(spec.exclude(), name) &&
                        !(spec.keep_first_last() && is_first_or_last(name, first, model));
    layer->set_weight_quantizer(wanted ? make_weight_quantizer(spec, layer->latent_weight()) : nullptr);
    // method.md quantizes the inputs of linears; the patch embedding's input is the image itself.
    const bool is_linear = dynamic_cast<QuantLinearImpl*>(layer) != nullptr;
    layer->set_input_quantizer(wanted && is_linear ? make_input_quantizer(spec, layer->latent_weight()) : nullptr);
    if (wanted) selected.push_back(name);
  }
  return selected;
}

}  // namespace tervit::quant
