#include "tervit/kernels/packed_metadata.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "tervit/core/error.h"

namespace tervit::kernels {

const std::string& required_metadata(const Metadata& metadata, const std::string& key, const std::string& source) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) throw Error(source + ": not a packed tervit model: its metadata has no '" + key + "'");
  return found->second;
}

PackedBits read_packed_bits(const Metadata& metadata, const std::string& source) {
  const auto& format = required_metadata(metadata, "format", source);
  if (format != kPackedFormat) throw Error(source + ": metadata format is '" + format + "', not " + kPackedFormat);
  const auto& version = required_metadata(metadata, "format_version", source);
  if (version != kPackedFormatVersion)
    throw Error(source + ": packed format version " + version + " is not the supported " + kPackedFormatVersion);
  return with_context(source, [&] { return packed_bits_names().parse(required_metadata(metadata, "bits", source), "bits"); });
}

int64_t packed_alpha_count(const Metadata& metadata, int64_t rows, const std::string& source) {
  const auto quant = nlohmann::json::parse(required_metadata(metadata, "quant", source), nullptr, /*allow_exceptions=*/false);
  if (!quant.is_object()) throw Error(source + ": metadata 'quant' is not a JSON object");
  // A packed matrix is ternary: a file whose quantizer says otherwise was edited or mislabelled.
  if (!quant.contains("weight_quant") || quant["weight_quant"] != "ternary")
    throw Error(source + ": metadata 'quant' has weight_quant " + (quant.contains("weight_quant") ? quant["weight_quant"].dump() : "(none)") +
                ", but the file holds packed ternary matrices");
  const auto& fields = quant.contains("quant") && quant["quant"].is_object() ? quant["quant"] : quant;
  if (!fields.contains("granularity")) return rows;
  const auto& granularity = fields["granularity"];
  if (granularity == "channel") return rows;
  if (granularity == "layer") return 1;
  throw Error(source + ": metadata 'quant' granularity is " + granularity.dump() + ", expected \"channel\" or \"layer\"");
}

std::vector<std::string> class_names_from_metadata(const Metadata& metadata, int64_t num_classes, const std::string& source) {
  const auto found = metadata.find("class_names");
  if (found == metadata.end()) return {};
  const auto names = nlohmann::json::parse(found->second, nullptr, /*allow_exceptions=*/false);
  if (!names.is_array() || !std::all_of(names.begin(), names.end(), [](const auto& n) { return n.is_string(); }))
    throw Error(source + ": metadata 'class_names' is not a JSON array of strings");
  if (static_cast<int64_t>(names.size()) != num_classes)
    throw Error(source + ": metadata 'class_names' has " + std::to_string(names.size()) + " names for a model of " +
                std::to_string(num_classes) + " classes");
  return names.get<std::vector<std::string>>();
}

}  // namespace tervit::kernels
