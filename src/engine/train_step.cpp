// One training step: forward and backward of each batch of an accumulation group, then the optimizer step.
#include <spdlog/spdlog.h>

#include <cmath>
#include <stdexcept>

#include "models/deit.h"
#include "tervit/data/random.h"
#include "tervit/engine/losses.h"
#include "src/engine/training_run.h"

namespace tervit::engine {

namespace {

// The mean over the ranks of a micro-batch's loss. It is not finite when any rank's is not, so that
// every rank skips the same steps, or stops at the same one.
double mean_over_ranks(ProcessGroup* group, double value) {
  if (group == nullptr) return value;
  auto sum = torch::tensor({value}, torch::kFloat64).to(group->device());
  group->all_reduce_sum(sum).wait();
  return sum.cpu().item<double>() / static_cast<double>(group->world_size());
}

// The classification loss (soft targets under Mixup/CutMix, else smoothed labels), blended with DeiT's
// distillation term when a teacher is set. A distilled DeiT distils through its distillation token.
torch::Tensor batch_loss(TrainingRun& run, const data::Batch& batch, const torch::Tensor& images) {
  const auto& device = run.options.device;
  const auto& distill = run.config.distill;
  AutocastScope autocast(run.config.runtime.amp, device);
  auto* distilled_deit = dynamic_cast<models::DeiTImpl*>(run.model.get());
  torch::Tensor logits, distill_logits;
  if (distilled_deit != nullptr && distilled_deit->options().distilled()) {
    std::tie(logits, distill_logits) = distilled_deit->forward_head_distilled(run.model->head_features(images));
  } else {
    logits = run.model->forward(images);
    distill_logits = logits;
  }
  logits = logits.to(torch::kFloat32);
  auto loss = batch.targets.defined() ? soft_target_cross_entropy(logits, batch.targets.to(device, true))
                                      : smoothed_cross_entropy(logits, batch.labels.to(device, true), run.config.augment.smoothing);
  if (run.teacher) {
    torch::Tensor teacher_logits;
    {
      torch::NoGradGuard no_grad;
      teacher_logits = run.teacher->forward(images).to(torch::kFloat32);
    }
    loss = loss * (1.0 - distill.alpha) +
           distillation_loss(distill_logits.to(torch::kFloat32), teacher_logits, distill.type, distill.tau) * distill.alpha;
  }
  return loss;
}

}  // namespace

bool train_batch(TrainingRun& run, const StageConfig& stage, const data::Batch& batch, StepInterval& interval) {
  auto& p = run.position;
  const int64_t batches = run.data.train_loader->batches_per_epoch();
  const int64_t b = p.batch;
  const bool group_start = b % run.accum_steps() == 0;
  const bool group_end = (b + 1) % run.accum_steps() == 0 || b + 1 == batches;
  if (group_start) {
    run.optimizer->zero_grad();
    interval.group_skipped = false;
  }
  // Dropout and drop path draw from a generator seeded per batch, so a resumed run draws the same;
  // each rank of a data-parallel run draws its own.
  const auto seed = run.config.runtime.seed;
  const auto step_seed = static_cast<uint64_t>(p.global_step);
  torch::manual_seed(run.group() ? data::mix_seed({seed, step_seed, static_cast<uint64_t>(b), static_cast<uint64_t>(run.rank())})
                                 : data::mix_seed({seed, step_seed, static_cast<uint64_t>(b)}));
  const auto images = batch.images.to(run.options.device, /*non_blocking=*/true);
  const auto loss = batch_loss(run, batch, images);
  const double loss_value = mean_over_ranks(run.group(), loss.item<double>());
  if (!std::isfinite(loss_value)) {
    const auto where = "stage '" + stage.name + "' epoch " + std::to_string(p.epoch + 1) + " step " +
                       std::to_string(p.global_step + 1) + " (batch " + std::to_string(b) + ")";
    const auto max_skips = run.config.optimizer.max_nonfinite_skips;
    if (p.nonfinite_skips >= max_skips) {
      const auto kept = step_checkpoints(run.checkpoints_dir());
      throw std::runtime_error("loss is " + std::string(std::isnan(loss_value) ? "NaN" : "infinite") + " at " + where +
                               "; stopping. The last good checkpoint is " + (kept.empty() ? std::string("none") : kept.back().string()) +
                               " (optimizer.max_nonfinite_skips allows skipping such steps)");
    }
    ++p.nonfinite_skips;
    interval.group_skipped = true;
    spdlog::warn("loss is not finite at {}: step skipped ({} of {} allowed)", where, p.nonfinite_skips, max_skips);
  } else {
    // Only the group's last backward pass communicates: the ones before accumulate locally.
    if (run.reducer) run.reducer->prepare(group_end);
    run.scaler.scale_loss(loss / static_cast<double>(run.accum_steps())).backward();
    if (run.reducer && group_end) run.reducer->finish();
    p.interval_loss_sum += loss_value;
    p.epoch_loss_sum += loss_value;
    ++p.interval_loss_count;
    ++p.epoch_loss_count;
  }
  interval.images += images.size(0) * run.world_size();
  ++p.batch;
  return group_end;
}

double optimizer_step(TrainingRun& run, const StepInterval& interval) {
  const double lr = learning_rate(run.schedule, run.position.stage_step);
  if (!interval.group_skipped && run.scaler.unscale(run.trained)) {
    if (run.config.optimizer.clip_grad > 0) torch::nn::utils::clip_grad_norm_(run.trained, run.config.optimizer.clip_grad);
    for (auto& group : run.optimizer->param_groups()) group.options().set_lr(lr);
    run.optimizer->step();
    if (run.ema) run.ema->update(*run.model);
  }
  ++run.position.stage_step;
  ++run.position.global_step;
  return lr;
}

}  // namespace tervit::engine
