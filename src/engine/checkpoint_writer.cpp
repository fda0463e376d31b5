#include "src/engine/checkpoint_writer.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "tervit/core/error.h"
#include "tervit/engine/optimizer_state.h"
#include "tervit/libtorch/state_dict.h"
#include "tervit/quant/quantizer_state.h"

namespace tervit::engine {

namespace fs = std::filesystem;

Checkpoint make_checkpoint(const TrainingRun& run, const StageConfig& stage, const TrainerState& position) {
  Checkpoint c;
  c.model = module_state_dict(*run.model);
  c.model_metadata = {{"format", "pt"},
                      {"family", run.config.model.name},
                      {"config", run.config.model.architecture_overrides.dump()},
                      {"quant", stage.quant_json.dump()},
                      {"stage", stage.name}};
  c.quantizers = quant::quantizer_state(*run.model);
  c.optimizer = adamw_state(*run.optimizer);
  if (run.ema) c.ema = run.ema->weights();
  for (const auto& [layer, codes] : run.diagnostics.previous_codes()) c.diagnostics[layer] = codes.cpu();
  c.state = position;
  c.state.metrics_bytes = run.metrics->bytes();
  c.state.loss_scale = run.scaler.scale();
  c.state.world_size = run.world_size();
  c.config_yaml = run.config.tree.dump();
  return c;
}

bool save_checkpoint(const TrainingRun& run, const StageConfig& stage, const TrainerState& position, const fs::path& folder) {
  if (!run.writes_run_folder()) return true;
  try {
    if (fs::exists(folder)) replace_checkpoint(folder, make_checkpoint(run, stage, position));
    else write_checkpoint(folder, make_checkpoint(run, stage, position));
    return true;
  } catch (const Error& e) {
    if (run.config.checkpoint.on_write_error == WriteErrorPolicy::kStop)
      throw std::runtime_error(std::string("checkpoint write failed, earlier checkpoints are intact; stopping "
                                           "(checkpoint.on_write_error: stop): ") + e.what());
    spdlog::error("checkpoint write failed, earlier checkpoints are intact; training continues "
                  "(checkpoint.on_write_error: continue): {}", e.what());
    return false;
  }
}

std::optional<fs::path> save_step_checkpoint(const TrainingRun& run, const StageConfig& stage, const TrainerState& position) {
  const auto folder = run.checkpoints_dir() / checkpoint_name(position.global_step);
  const bool written = save_checkpoint(run, stage, position, folder);
  if (run.writes_run_folder()) prune_checkpoints(run.checkpoints_dir(), run.config.checkpoint.keep_last);
  return written ? std::optional(folder) : std::nullopt;
}

}  // namespace tervit::engine
