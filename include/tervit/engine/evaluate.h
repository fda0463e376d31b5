#pragma once
// Validation: top-1, top-5 and cross-entropy of a model over a whole data set, in eval mode.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "models/vision_model.h"
#include "tervit/data/eval_transform.h"
#include "tervit/data/loader.h"
#include "tervit/engine/process_group.h"

namespace tervit::engine {

struct EvalResult {
  double top1 = 0;  // percent
  double top5 = 0;  // percent (top-k with k = min(5, classes))
  double loss = 0;  // mean cross-entropy
  int64_t images = 0;
  double images_per_second = 0;
};

// A loader over `samples` in order, with the eval transform, keeping the last partial batch. `rank` of
// `world_size` takes every world_size-th image from its rank on, without padding.
std::unique_ptr<data::DataLoader> make_eval_loader(std::vector<data::Sample> samples, const image::EvalTransformOptions& transform,
                                                   int64_t batch_size, int workers, int64_t rank = 0, int64_t world_size = 1);

// Runs every batch of the loader's epoch 0 (an eval loader: no shuffle, no drop_last) through `model`
// on `device`. Leaves the model in eval mode. With a `group`, each rank runs its share and the result is
// over all of them (images_per_second: all ranks' images over this rank's time).
EvalResult evaluate(models::VisionModelImpl& model, data::DataLoader& loader, const torch::Device& device,
                    ProcessGroup* group = nullptr);

}  // namespace tervit::engine
