#include "tervit/data/rand_augment.h"
#include "tervit/core/strings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

#include "tervit/core/error.h"
#include "tervit/data/augment_ops.h"
#include "tervit/data/pil_enhance.h"

namespace tervit::data {
namespace {

constexpr double kLevelDenominator = 10.0;  // timm's _LEVEL_DENOM: magnitude 10 = strongest

const std::vector<std::string> kOps{"AutoContrast", "Equalize",   "Invert",     "Rotate", "Posterize",
                                    "Solarize",     "SolarizeAdd", "Color",      "Contrast", "Brightness",
                                    "Sharpness",    "ShearX",     "ShearY",     "TranslateXRel", "TranslateYRel"};
const std::vector<std::string> kIncreasingOps{
    "AutoContrast",       "Equalize",           "Invert",         "Rotate",        "PosterizeIncreasing",
    "SolarizeIncreasing", "SolarizeAdd",        "ColorIncreasing", "ContrastIncreasing", "BrightnessIncreasing",
    "SharpnessIncreasing", "ShearX",            "ShearY",         "TranslateXRel", "TranslateYRel"};

// timm's _RAND_CHOICE_WEIGHTS_0, by the base name of the op.
double choice_weight(const std::string& name) {
  static const std::map<std::string, double> kWeights{
      {"Rotate", 0.3},   {"ShearX", 0.2},     {"ShearY", 0.2},       {"TranslateXRel", 0.1}, {"TranslateYRel", 0.1},
      {"Color", 0.025},  {"Sharpness", 0.025}, {"AutoContrast", 0.025}, {"Solarize", 0.005},  {"SolarizeAdd", 0.005},
      {"Contrast", 0.005}, {"Brightness", 0.005}, {"Equalize", 0.005},  {"Posterize", 0.0},     {"Invert", 0.0}};
  return kWeights.at(name);
}

// timm's _randomly_negate: negative when random() > 0.5.
double randomly_negate(double value, Rng& rng) { return uniform(rng, 0.0, 1.0) > 0.5 ? -value : value; }

// "m9" -> ("m", "9"): the key is everything before the first digit, as timm's re.split(r'(\d.*)').
std::pair<std::string, std::string> split_section(const std::string& section) {
  const size_t digit = section.find_first_of("0123456789");
  if (digit == std::string::npos) return {section, ""};
  return {section.substr(0, digit), section.substr(digit)};
}

double parse_number(const std::string& config, const std::string& section, const std::string& text, bool integer) {
  try {
    size_t used = 0;
    const double value = integer ? static_cast<double>(std::stoi(text, &used)) : std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  throw Error("RandAugment '" + config + "': section '" + section + "' needs " + (integer ? "an integer" : "a number"));
}

// The enhance factor of timm's _enhance_level_to_arg / _enhance_increasing_level_to_arg.
double enhance_factor(double magnitude, bool increasing, Rng& rng) {
  if (!increasing) return magnitude / kLevelDenominator * 1.8 + 0.1;
  return std::max(0.1, 1.0 + randomly_negate(magnitude / kLevelDenominator * 0.9, rng));
}

// An index drawn with probability proportional to its (non-negative, not all zero) weight.
size_t weighted_pick(const std::vector<double>& weights, Rng& rng) {
  double total = 0.0;
  for (const double w : weights) total += w;
  double point = uniform(rng, 0.0, total);
  size_t last_positive = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0.0) continue;
    if (point < weights[i]) return i;
    point -= weights[i];
    last_positive = i;
  }
  return last_positive;  // rounding left the point just past the end
}

}  // namespace

RandAugment::RandAugment(const std::string& config, RandAugmentParams params) : params_(params) {
  std::vector<std::string> sections;
  std::stringstream stream(config);
  for (std::string section; std::getline(stream, section, '-');) sections.push_back(section);
  if (sections.empty() || sections.front() != "rand") {
    throw Error("RandAugment '" + config + "': must start with 'rand' (e.g. rand-m9-mstd0.5-inc1)");
  }
  bool increasing = false;
  bool weighted = false;
  for (size_t i = 1; i < sections.size(); ++i) {
    const std::string& section = sections[i];
    const auto [key, value] = split_section(section);
    if (value.empty()) {
      throw Error("RandAugment '" + config + "': section '" + section + "' has no value (keys: m, n, mstd, mmax, inc, p, w)");
    }
    if (key == "m") {
      magnitude_ = parse_number(config, section, value, true);
    } else if (key == "n") {
      num_layers_ = static_cast<int>(parse_number(config, section, value, true));
    } else if (key == "mstd") {
      magnitude_std_ = parse_number(config, section, value, false);
      if (magnitude_std_ > 100.0) magnitude_std_ = std::numeric_limits<double>::infinity();
    } else if (key == "mmax") {
      magnitude_max_ = parse_number(config, section, value, true);
    } else if (key == "inc") {
      increasing = parse_number(config, section, value, true) != 0.0;  // timm's bool("0") would be true
    } else if (key == "p") {
      probability_ = parse_number(config, section, value, false);
    } else if (key == "w") {
      if (parse_number(config, section, value, true) != 0.0) {
        throw Error("RandAugment '" + config + "': only choice weights w0 exist");
      }
      weighted = true;
    } else {
      throw Error("RandAugment '" + config + "': unknown section '" + section + "' (keys: m, n, mstd, mmax, inc, p, w)");
    }
  }
  if (num_layers_ < 0) throw Error("RandAugment '" + config + "': n must be >= 0");
  if (magnitude_std_ < 0.0) throw Error("RandAugment '" + config + "': mstd must be >= 0");
  if (probability_ < 0.0 || probability_ > 1.0) throw Error("RandAugment '" + config + "': p must lie in [0, 1]");
  op_names_ = increasing ? kIncreasingOps : kOps;
  if (weighted) {
    // timm lists the weights by the plain op names; the increasing list has the same order.
    for (const auto& name : kOps) choice_weights_.push_back(choice_weight(name));
    if (num_layers_ > static_cast<int>(std::count_if(choice_weights_.begin(), choice_weights_.end(), [](double w) { return w > 0; }))) {
      throw Error("RandAugment '" + config + "': n is larger than the number of weighted ops");
    }
  }
}

void RandAugment::operator()(cv::Mat& rgb8, Rng& rng) const {
  // numpy.random.choice: with replacement when uniform, without when weighted.
  std::vector<double> weights = choice_weights_;
  for (int layer = 0; layer < num_layers_; ++layer) {
    size_t chosen = 0;
    if (weights.empty()) {
      chosen = static_cast<size_t>(uniform_int(rng, 0, static_cast<int64_t>(op_names_.size()) - 1));
    } else {
      chosen = weighted_pick(weights, rng);
      weights[chosen] = 0.0;
    }
    if (probability_ < 1.0 && uniform(rng, 0.0, 1.0) > probability_) continue;
    double magnitude = magnitude_;
    if (std::isinf(magnitude_std_)) {
      magnitude = uniform(rng, 0.0, magnitude);
    } else if (magnitude_std_ > 0.0) {
      magnitude += magnitude_std_ * normal(rng);
    }
    apply_op(op_names_[chosen], rgb8, std::clamp(magnitude, 0.0, magnitude_max_), rng);
  }
}

void RandAugment::apply_op(const std::string& name, cv::Mat& rgb8, double magnitude, Rng& rng) const {
  const double level = magnitude / kLevelDenominator;
  const bool increasing = ends_with(name, "Increasing");
  const cv::Scalar fill(params_.fill[0], params_.fill[1], params_.fill[2]);
  const auto warp = [&](const cv::Matx23d& map) { rgb8 = affine_like_pil(rgb8, map, params_.interpolation, fill); };
  if (name == "AutoContrast") {
    auto_contrast(rgb8);
  } else if (name == "Equalize") {
    equalize(rgb8);
  } else if (name == "Invert") {
    invert(rgb8);
  } else if (name == "Rotate") {
    rgb8 = rotate_like_pil(rgb8, randomly_negate(level * 30.0, rng), params_.interpolation, fill);
  } else if (name == "Posterize" || name == "PosterizeIncreasing") {
    const int bits = static_cast<int>(level * 4.0);
    posterize(rgb8, increasing ? 4 - bits : bits);
  } else if (name == "Solarize" || name == "SolarizeIncreasing") {
    const int threshold = static_cast<int>(level * 256.0);
    solarize(rgb8, increasing ? 256 - threshold : threshold);
  } else if (name == "SolarizeAdd") {
    solarize_add(rgb8, static_cast<int>(level * 110.0));
  } else if (name == "Color" || name == "ColorIncreasing") {
    adjust_saturation(rgb8, enhance_factor(magnitude, increasing, rng));
  } else if (name == "Contrast" || name == "ContrastIncreasing") {
    adjust_contrast(rgb8, enhance_factor(magnitude, increasing, rng));
  } else if (name == "Brightness" || name == "BrightnessIncreasing") {
    adjust_brightness(rgb8, enhance_factor(magnitude, increasing, rng));
  } else if (name == "Sharpness" || name == "SharpnessIncreasing") {
    adjust_sharpness(rgb8, enhance_factor(magnitude, increasing, rng));
  } else if (name == "ShearX") {
    warp({1, randomly_negate(level * 0.3, rng), 0, 0, 1, 0});
  } else if (name == "ShearY") {
    warp({1, 0, 0, randomly_negate(level * 0.3, rng), 1, 0});
  } else if (name == "TranslateXRel") {
    warp({1, 0, randomly_negate(level * params_.translate_pct, rng) * rgb8.cols, 0, 1, 0});
  } else if (name == "TranslateYRel") {
    warp({1, 0, 0, 0, 1, randomly_negate(level * params_.translate_pct, rng) * rgb8.rows});
  } else {
    throw Error("RandAugment: unknown op '" + name + "'");
  }
}

}  // namespace tervit::data
