#include "tervit/runtime/model.h"

#include <omp.h>

#include <nlohmann/json.hpp>
#include <algorithm>
#include <utility>

#include "src/runtime/network_builders.h"
#include "tervit/core/error.h"
#include "tervit/deploy/packed_format_names.h"

namespace tervit::runtime {

namespace {

const std::string& required_metadata(const WeightFile& file, const std::string& key) {
  const auto found = file.metadata().find(key);
  if (found == file.metadata().end())
    throw Error(file.source() + ": not a packed tervit model: its metadata has no '" + key + "'");
  return found->second;
}

std::vector<std::string> read_class_names(const WeightFile& file, int64_t num_classes) {
  const auto found = file.metadata().find("class_names");
  if (found == file.metadata().end()) return {};
  const auto names = nlohmann::json::parse(found->second, nullptr, /*allow_exceptions=*/false);
  const bool strings = names.is_array() && std::all_of(names.begin(), names.end(), [](const auto& n) { return n.is_string(); });
  if (!strings) throw Error(file.source() + ": metadata 'class_names' is not a JSON array of strings");
  if (static_cast<int64_t>(names.size()) != num_classes)
    throw Error(file.source() + ": metadata 'class_names' has " + std::to_string(names.size()) + " names for a model of " +
                std::to_string(num_classes) + " classes");
  return names.get<std::vector<std::string>>();
}

}  // namespace

std::vector<float> Model::forward(const float* images, int64_t batch) const {
  const int64_t image_size = architecture.in_chans * architecture.img_size * architecture.img_size;
  std::vector<float> logits(static_cast<size_t>(batch * architecture.num_classes));
  for (int64_t b = 0; b < batch; ++b) network->forward(images + b * image_size, logits.data() + b * architecture.num_classes);
  return logits;
}

Model load_model(const std::filesystem::path& path, deploy::PackedMode mode) { return load_model(WeightFile::read(path), mode); }

Model load_model(WeightFile file, deploy::PackedMode mode) {
  const auto& format = required_metadata(file, "format");
  if (format != deploy::kPackedFormat)
    throw Error(file.source() + ": metadata format is '" + format + "', not " + deploy::kPackedFormat);
  const auto& version = required_metadata(file, "format_version");
  if (version != deploy::kPackedFormatVersion)
    throw Error(file.source() + ": packed format version " + version + " is not the supported " + deploy::kPackedFormatVersion);
  Model model;
  model.mode = mode;
  model.bits = with_context(file.source(), [&] { return deploy::parse_packed_bits(required_metadata(file, "bits")); });
  model.architecture = read_architecture(file.metadata(), file.source());
  model.class_names = read_class_names(file, model.architecture.num_classes);
  model.network = model.architecture.family == "deit" ? build_deit(model.architecture, file, model.bits, mode)
                                                      : build_swin(model.architecture, file, model.bits, mode);
  file.check_all_taken();
  model.packed_layers = file.packed_layers();
  return model;
}

void set_threads(int threads) { omp_set_num_threads(std::max(threads, 1)); }

}  // namespace tervit::runtime
