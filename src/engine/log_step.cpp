// What a step shows: the progress display, and every logging.every_steps steps a metrics line.
#include "src/engine/training_run.h"

namespace tervit::engine {

namespace {

// The mean ternary sparsity of the quantized layers and, from the second measurement on, their flip rate.
void add_ternary_diagnostics(TrainingRun& run, nlohmann::ordered_json& line) {
  const auto ternary = run.diagnostics.measure(*run.model);
  if (ternary.empty()) return;
  double zeros = 0, flips = 0;
  int64_t flip_layers = 0;
  for (const auto& layer : ternary) {
    zeros += layer.zero_fraction;
    if (layer.flip_rate) flips += *layer.flip_rate, ++flip_layers;
  }
  line["ternary_sparsity"] = zeros / static_cast<double>(ternary.size());
  if (flip_layers > 0) line["flip_rate"] = flips / static_cast<double>(flip_layers);
}

}  // namespace

void log_step(TrainingRun& run, const StageConfig& stage, Progress& progress, StepInterval& interval, double lr) {
  auto& p = run.position;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - interval.start).count();
  const double images_per_second = seconds > 0 ? static_cast<double>(interval.images) / seconds : 0;
  const double loss = p.interval_loss_count ? p.interval_loss_sum / p.interval_loss_count : 0;
  const int64_t step_in_epoch = (p.batch + run.accum_steps() - 1) / run.accum_steps();
  if (run.writes_run_folder()) progress.update(epoch_label(run, stage), step_in_epoch, run.steps_per_epoch(), loss, lr, images_per_second);
  if (p.global_step % run.config.logging.every_steps != 0) return;
  if (run.writes_run_folder()) {
    nlohmann::ordered_json line{{"kind", "step"},
                                {"stage", stage.name},
                                {"epoch", p.epoch + 1},
                                {"step", p.global_step},
                                {"loss", loss},
                                {"lr", lr},
                                {"img_per_s", round_to_tenths(images_per_second)}};
    add_ternary_diagnostics(run, line);
    run.metrics->write(line);
  }
  p.interval_loss_sum = 0;
  p.interval_loss_count = 0;
  interval.images = 0;
  interval.start = std::chrono::steady_clock::now();
}

}  // namespace tervit::engine
