#include "tervit/engine/evaluate.h"

#include <algorithm>
#include <chrono>

#include "tervit/core/thread_budget.h"

namespace tervit::engine {

std::unique_ptr<data::DataLoader> make_eval_loader(std::vector<data::Sample> samples, const image::EvalTransformOptions& transform,
                                                   int64_t batch_size, int workers, int64_t rank, int64_t world_size) {
  data::LoaderOptions options;
  options.batch_size = batch_size;
  options.workers = workers;
  options.drop_last = false;
  options.sampler.shuffle = false;
  options.sampler.rank = rank;
  options.sampler.world_size = world_size;
  options.sampler.pad = false;  // every image once over all ranks: summed counts give the exact top-1
  return std::make_unique<data::DataLoader>(
      std::move(samples), [transform](const cv::Mat& rgb8, data::Rng&) { return data::eval_transform(rgb8, transform); },
      options);
}

EvalResult evaluate(models::VisionModelImpl& model, data::DataLoader& loader, const torch::Device& device, ProcessGroup* group) {
  torch::NoGradGuard no_grad;
  model.eval();
  const auto start = std::chrono::steady_clock::now();
  const int64_t k = std::min<int64_t>(5, model.num_classes());
  double loss_sum = 0;
  int64_t top1 = 0, top5 = 0, images = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    adapt_threads();
    const auto labels = batch->labels.to(device);
    const auto logits = model.forward(batch->images.to(device)).to(torch::kFloat32);
    loss_sum += torch::nn::functional::cross_entropy(logits, labels,
                                                     torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    const auto best = std::get<1>(logits.topk(k, -1));
    const auto hits = best.eq(labels.unsqueeze(1));
    top1 += hits.select(1, 0).sum().item<int64_t>();
    top5 += hits.any(1).sum().item<int64_t>();
    images += labels.size(0);
  }
  if (group != nullptr) {
    // float64 holds counts exactly up to 2^53.
    auto sums = torch::tensor({loss_sum, static_cast<double>(top1), static_cast<double>(top5), static_cast<double>(images)},
                              torch::kFloat64)
                    .to(group->device());
    group->all_reduce_sum(sums).wait();
    sums = sums.cpu();
    loss_sum = sums[0].item<double>();
    top1 = static_cast<int64_t>(sums[1].item<double>());
    top5 = static_cast<int64_t>(sums[2].item<double>());
    images = static_cast<int64_t>(sums[3].item<double>());
  }
  EvalResult result;
  result.images = images;
  if (images > 0) {
    result.top1 = 100.0 * static_cast<double>(top1) / static_cast<double>(images);
    result.top5 = 100.0 * static_cast<double>(top5) / static_cast<double>(images);
    result.loss = loss_sum / static_cast<double>(images);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.images_per_second = seconds > 0 ? static_cast<double>(images) / seconds : 0;
  return result;
}

}  // namespace tervit::engine
