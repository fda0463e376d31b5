// An epoch's end: evaluation, the epoch's metrics line, and the checkpoints of the next position.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "tervit/engine/evaluate.h"
#include "tervit/engine/stop_signal.h"
#include "src/engine/checkpoint_writer.h"

namespace tervit::engine {

namespace {

std::string fixed(double value, int digits) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

// The position a checkpoint written now records: the next epoch, or the next stage from its start.
TrainerState next_position(const TrainerState& p, const StageConfig& stage) {
  TrainerState next = p;
  next.batch = 0;
  next.epoch_loss_sum = 0;
  next.epoch_loss_count = 0;
  if (p.epoch + 1 == stage.epochs) {
    ++next.stage;
    next.epoch = 0;
    next.stage_step = 0;
    next.best_top1 = -1;
  } else {
    ++next.epoch;
  }
  return next;
}

}  // namespace

bool end_epoch(TrainingRun& run, const StageConfig& stage) {
  auto& p = run.position;
  const auto result = evaluate(*run.model, *run.data.val_loader, run.options.device, run.group());
  nlohmann::ordered_json line{{"kind", "epoch"},
                              {"stage", stage.name},
                              {"epoch", p.epoch + 1},
                              {"step", p.global_step},
                              {"train_loss", p.epoch_loss_count ? p.epoch_loss_sum / p.epoch_loss_count : 0},
                              {"val_top1", result.top1},
                              {"val_top5", result.top5},
                              {"val_loss", result.loss},
                              {"eval_img_per_s", round_to_tenths(result.images_per_second)}};
  if (run.ema) {
    ModelEma::Swap swap(*run.model, *run.ema);
    line["ema_val_top1"] = evaluate(*run.model, *run.data.val_loader, run.options.device, run.group()).top1;
  }
  const bool best = result.top1 > p.best_top1;
  if (best) p.best_top1 = result.top1;
  if (run.writes_run_folder()) run.metrics->write(line);
  spdlog::info("{}: val top-1 {}% top-5 {}% loss {}{}", epoch_label(run, stage), fixed(result.top1, 2), fixed(result.top5, 2),
               fixed(result.loss, 4), best ? " (best of the stage)" : "");
  const auto next = next_position(p, stage);
  // The best checkpoint first: the step checkpoint records the new best, so a run killed between the two
  // writes must resume from the one before, which evaluates this epoch (and writes the best) again.
  if (best) save_checkpoint(run, stage, next, run.checkpoints_dir() / ("best-" + stage.name));
  save_step_checkpoint(run, stage, next);
  p.batch = 0;
  p.epoch_loss_sum = 0;
  p.epoch_loss_count = 0;
  if (const int signal = agreed_stop_signal(run.group())) {
    spdlog::warn("signal {} received: stopped at the end of an epoch; continue with --resume auto", signal);
    return true;
  }
  return false;
}

}  // namespace tervit::engine
