#include "tervit/runtime/architecture.h"

#include <nlohmann/json.hpp>

#include "tervit/core/error.h"
#include "tervit/kernels/model_fields.h"
#include "tervit/kernels/packed_metadata.h"

namespace tervit::runtime {

namespace {

using nlohmann::json;

void require(bool ok, const std::string& source, const std::string& what) {
  if (!ok) throw Error(source + ": metadata 'config': " + what);
}

}  // namespace

Architecture read_architecture(const std::map<std::string, std::string>& metadata, const std::string& source) {
  Architecture a;
  a.family = kernels::required_metadata(metadata, "family", source);
  const auto config = json::parse(kernels::required_metadata(metadata, "config", source), nullptr, /*allow_exceptions=*/false);
  if (!config.is_object()) throw Error(source + ": metadata 'config' is not a JSON object");
  const auto* fields = kernels::model_fields(a.family);
  if (fields == nullptr) throw Error(source + ": metadata 'family' is '" + a.family + "', expected deit or swin");
  for (const auto& field : *fields) {
    if (!config.contains(field.name)) throw Error(source + ": metadata 'config' has no '" + field.name + "'");
    const auto expected = kernels::field_violation(field.rule, config[field.name]);
    if (!expected.empty()) throw Error(source + ": metadata 'config' field '" + field.name + "' is not " + expected);
  }
  a.img_size = config["img_size"];
  a.patch_size = config["patch_size"];
  a.in_chans = config["in_chans"];
  a.num_classes = config["num_classes"];
  a.embed_dim = config["embed_dim"];
  a.mlp_ratio = config["mlp_ratio"];
  a.qkv_bias = config["qkv_bias"];
  require(a.img_size % a.patch_size == 0, source, "img_size is not a multiple of patch_size");
  if (a.family == "deit") {
    a.depth = config["depth"];
    a.num_heads = config["num_heads"];
    a.distilled = config["distilled"];
    require(a.embed_dim % a.num_heads == 0, source, "embed_dim is not a multiple of num_heads");
  } else {
    a.depths = config["depths"].get<std::vector<int64_t>>();
    a.stage_heads = config["num_heads"].get<std::vector<int64_t>>();
    a.window_size = config["window_size"];
    const auto stages = static_cast<int64_t>(a.depths.size());
    require(a.stage_heads.size() == a.depths.size(), source, "depths and num_heads differ in length");
    require((a.img_size / a.patch_size) % (int64_t{1} << (stages - 1)) == 0, source, "the patch grid cannot be halved once per stage");
    for (int64_t s = 0; s < stages; ++s)
      require((a.embed_dim << s) % a.stage_heads[s] == 0, source, "a stage's width is not a multiple of its heads");
  }
  return a;
}

}  // namespace tervit::runtime
