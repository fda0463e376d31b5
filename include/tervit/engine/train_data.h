#pragma once
// The training and validation data of a run config: ImageFolders under data.root (train_split,
// val_split), timm's train transform with Mixup/CutMix from the augment section, the eval transform,
// and their loaders. Everything a data set can get wrong is found here, before a run writes anything.
#include <memory>

#include "tervit/data/image_folder.h"
#include "tervit/data/loader.h"
#include "tervit/engine/run_config.h"

namespace tervit::engine {

struct Sharding {
  int64_t rank = 0;
  int64_t world_size = 1;
};

struct TrainData {
  data::ImageDataset train;
  data::ImageDataset val;
  std::unique_ptr<data::DataLoader> train_loader;
  std::unique_ptr<data::DataLoader> val_loader;
};

// Throws tervit::Error naming the folder for a missing or empty data set or class folder, classes that
// differ between the splits, or a class count other than the model's `num_classes`.
TrainData make_train_data(const RunConfig& config, int64_t num_classes, int64_t img_size, const Sharding& sharding,
                          bool pin_memory);

}  // namespace tervit::engine
