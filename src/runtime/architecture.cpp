#include "tervit/runtime/architecture.h"

#include <nlohmann/json.hpp>

#include "tervit/core/error.h"
#include "tervit/kernels/packed_metadata.h"

namespace tervit::runtime {

namespace {

using nlohmann::json;

class ConfigReader {
 public:
  ConfigReader(const json& config, std::string source) : config_(config), source_(std::move(source)) {}

  int64_t positive(const std::string& field) const {
    const auto& value = get(field);
    if (!value.is_number_integer() || value.get<int64_t>() < 1) fail(field, "a positive integer");
    return value.get<int64_t>();
  }
  int64_t non_negative(const std::string& field) const {
    const auto& value = get(field);
    if (!value.is_number_integer() || value.get<int64_t>() < 0) fail(field, "a non-negative integer");
    return value.get<int64_t>();
  }
  double ratio(const std::string& field) const {
    const auto& value = get(field);
    if (!value.is_number() || !(value.get<double>() > 0)) fail(field, "a number above 0");
    return value.get<double>();
  }
  bool flag(const std::string& field) const {
    const auto& value = get(field);
    if (!value.is_boolean()) fail(field, "true or false");
    return value.get<bool>();
  }
  std::vector<int64_t> positive_list(const std::string& field, bool zero_allowed) const {
    const auto& value = get(field);
    const auto expected = std::string("1 to 8 ") + (zero_allowed ? "non-negative" : "positive") + " integers";
    if (!value.is_array() || value.empty() || value.size() > 8) fail(field, expected);
    std::vector<int64_t> list;
    for (const auto& item : value) {
      if (!item.is_number_integer() || item.get<int64_t>() < (zero_allowed ? 0 : 1)) fail(field, expected);
      list.push_back(item.get<int64_t>());
    }
    return list;
  }

 private:
  const json& get(const std::string& field) const {
    if (!config_.contains(field)) throw Error(source_ + ": metadata 'config' has no '" + field + "'");
    return config_.at(field);
  }
  [[noreturn]] void fail(const std::string& field, const std::string& expected) const {
    throw Error(source_ + ": metadata 'config' field '" + field + "' is not " + expected);
  }

  const json& config_;
  std::string source_;
};

void require(bool ok, const std::string& source, const std::string& what) {
  if (!ok) throw Error(source + ": metadata 'config': " + what);
}

}  // namespace

Architecture read_architecture(const std::map<std::string, std::string>& metadata, const std::string& source) {
  const auto& family = kernels::required_metadata(metadata, "family", source);
  const auto config = json::parse(kernels::required_metadata(metadata, "config", source), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error(source + ": metadata 'config' is not a JSON object");
  const ConfigReader read(config, source);
  Architecture a;
  a.family = family;
  a.img_size = read.positive("img_size");
  a.patch_size = read.positive("patch_size");
  a.in_chans = read.positive("in_chans");
  a.num_classes = read.non_negative("num_classes");
  a.embed_dim = read.positive("embed_dim");
  a.mlp_ratio = read.ratio("mlp_ratio");
  a.qkv_bias = read.flag("qkv_bias");
  require(a.img_size % a.patch_size == 0, source, "img_size is not a multiple of patch_size");
  const int64_t grid = a.img_size / a.patch_size;
  if (a.family == "deit") {
    a.depth = read.non_negative("depth");
    a.num_heads = read.positive("num_heads");
    a.distilled = read.flag("distilled");
    require(a.embed_dim % a.num_heads == 0, source, "embed_dim is not a multiple of num_heads");
  } else if (a.family == "swin") {
    a.depths = read.positive_list("depths", /*zero_allowed=*/true);
    a.stage_heads = read.positive_list("num_heads", /*zero_allowed=*/false);
    a.window_size = read.positive("window_size");
    const auto stages = static_cast<int64_t>(a.depths.size());
    require(a.stage_heads.size() == a.depths.size(), source, "depths and num_heads differ in length");
    require(grid % (int64_t{1} << (stages - 1)) == 0, source, "the patch grid cannot be halved once per stage");
    for (int64_t s = 0; s < stages; ++s)
      require((a.embed_dim << s) % a.stage_heads[s] == 0, source, "a stage's width is not a multiple of its heads");
  } else {
    throw Error(source + ": metadata 'family' is '" + a.family + "', expected deit or swin");
  }
  return a;
}

}  // namespace tervit::runtime
