#include "tervit/engine/trainer_state.h"

#include <nlohmann/json.hpp>

#include "tervit/core/error.h"

namespace tervit::engine {

namespace {

constexpr int kFormatVersion = 1;

template <typename T>
T field(const nlohmann::json& json, const char* name, const std::string& source, double min) {
  const auto found = json.find(name);
  if (found == json.end()) throw Error(source + ": trainer state has no '" + name + "'");
  const bool type_ok = std::is_integral_v<T> ? found->is_number_integer() : found->is_number();
  if (!type_ok) throw Error(source + ": trainer state '" + name + "' is not a number of the right kind");
  const T value = found->get<T>();
  if (!(static_cast<double>(value) >= min)) throw Error(source + ": trainer state '" + name + "' is out of range");
  return value;
}

}  // namespace

std::string trainer_state_json(const TrainerState& s) {
  nlohmann::ordered_json json{{"format_version", kFormatVersion},
                              {"stage", s.stage},
                              {"epoch", s.epoch},
                              {"batch", s.batch},
                              {"stage_step", s.stage_step},
                              {"global_step", s.global_step},
                              {"best_top1", s.best_top1},
                              {"nonfinite_skips", s.nonfinite_skips},
                              {"metrics_bytes", s.metrics_bytes},
                              {"loss_scale", s.loss_scale},
                              {"epoch_loss_sum", s.epoch_loss_sum},
                              {"epoch_loss_count", s.epoch_loss_count},
                              {"interval_loss_sum", s.interval_loss_sum},
                              {"interval_loss_count", s.interval_loss_count},
                              {"world_size", s.world_size}};
  return json.dump(2) + "\n";
}

TrainerState parse_trainer_state(const std::string& text, const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": trainer state is not valid JSON: " + e.what());
  }
  if (!json.is_object()) throw Error(source + ": trainer state must be a JSON object");
  if (field<int64_t>(json, "format_version", source, 0) != kFormatVersion)
    throw Error(source + ": trainer state format version is not " + std::to_string(kFormatVersion));
  TrainerState s;
  s.stage = field<int64_t>(json, "stage", source, 0);
  s.epoch = field<int64_t>(json, "epoch", source, 0);
  s.batch = field<int64_t>(json, "batch", source, 0);
  s.stage_step = field<int64_t>(json, "stage_step", source, 0);
  s.global_step = field<int64_t>(json, "global_step", source, 0);
  s.best_top1 = field<double>(json, "best_top1", source, -1);
  s.nonfinite_skips = field<int64_t>(json, "nonfinite_skips", source, 0);
  s.metrics_bytes = field<int64_t>(json, "metrics_bytes", source, 0);
  s.loss_scale = field<double>(json, "loss_scale", source, 0);
  s.epoch_loss_sum = field<double>(json, "epoch_loss_sum", source, -1e308);
  s.epoch_loss_count = field<int64_t>(json, "epoch_loss_count", source, 0);
  s.interval_loss_sum = field<double>(json, "interval_loss_sum", source, -1e308);
  s.interval_loss_count = field<int64_t>(json, "interval_loss_count", source, 0);
  if (json.contains("world_size")) s.world_size = field<int64_t>(json, "world_size", source, 1);
  return s;
}

}  // namespace tervit::engine
