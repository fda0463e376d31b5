#include "tervit/engine/train_data.h"

#include "tervit/core/error.h"
#include "tervit/core/strings.h"
#include "tervit/data/train_transform.h"
#include "tervit/engine/evaluate.h"

namespace tervit::engine {

namespace fs = std::filesystem;

namespace {

data::ImageDataset load_split(const fs::path& folder, const std::string& key) {
  std::error_code error;  // a path the file system refuses (too long, no permission) is named with the key too
  const bool is_folder = fs::is_directory(folder, error);
  if (error && error != std::errc::no_such_file_or_directory)
    throw Error(key + ": data folder " + abbreviated(folder.string()) + ": " + error.message());
  if (!is_folder)
    throw Error(key + ": data folder " + abbreviated(folder.string()) + (fs::exists(folder) ? " is not a folder" : " does not exist"));
  return data::load_image_folder(folder);
}

data::TrainTransformOptions train_transform_options(const RunConfig& config, int64_t img_size) {
  data::TrainTransformOptions o;
  o.crop.size = static_cast<int>(img_size);
  const auto& scale = config.augment.scale;
  const auto& ratio = config.augment.ratio;
  o.crop.scale_min = scale[0];
  o.crop.scale_max = scale[1];
  o.crop.ratio_min = ratio[0];
  o.crop.ratio_max = ratio[1];
  o.crop.interpolation = config.data.interpolation;
  o.hflip = config.augment.hflip;
  const double jitter = config.augment.color_jitter;
  o.color_jitter = {jitter, jitter, jitter};
  o.auto_augment = config.augment.auto_augment;
  o.normalization.mean = config.data.mean;
  o.normalization.std = config.data.std;
  for (size_t c = 0; c < 3; ++c)  // timm fills uncovered areas with the mean colour
    o.rand_augment_params.fill[c] = static_cast<uint8_t>(std::lround(255.0 * o.normalization.mean[c]));
  o.rand_augment_params.interpolation = o.crop.interpolation;
  o.erasing.probability = config.augment.reprob;
  return o;
}

std::optional<data::MixupOptions> mixup_options(const AugmentSection& augment, int64_t num_classes) {
  data::MixupOptions o;
  o.mixup_alpha = augment.mixup;
  o.cutmix_alpha = augment.cutmix;
  o.prob = augment.mixup_prob;
  o.switch_prob = augment.mixup_switch_prob;
  o.label_smoothing = augment.smoothing;
  o.num_classes = num_classes;
  if ((o.mixup_alpha <= 0 && o.cutmix_alpha <= 0) || o.prob <= 0) return std::nullopt;
  return o;
}

}  // namespace

TrainData make_train_data(const RunConfig& config, int64_t num_classes, int64_t img_size, const Sharding& sharding,
                          bool pin_memory) {
  const auto& root = config.data.root;
  TrainData d;
  d.train = load_split(root / config.data.train_split, "data.train_split");
  d.val = load_split(root / config.data.val_split, "data.val_split");
  if (d.train.classes != d.val.classes)
    throw Error("data: " + (root / config.data.val_split).string() + " has other class folders (" +
                std::to_string(d.val.classes.size()) + ") than " + (root / config.data.train_split).string() +
                " (" + std::to_string(d.train.classes.size()) + ")");
  if (static_cast<int64_t>(d.train.classes.size()) != num_classes)
    throw Error("data: " + root.string() + " has " + std::to_string(d.train.classes.size()) +
                " classes but the model has num_classes " + std::to_string(num_classes) +
                " (set model.architecture.num_classes)");

  data::LoaderOptions train;
  train.batch_size = config.data.batch_size;
  train.workers = config.data.workers;
  train.drop_last = true;
  train.sampler.seed = config.runtime.seed;
  train.sampler.rank = sharding.rank;
  train.sampler.world_size = sharding.world_size;
  train.sampler.repeats = config.data.repeated_aug;
  train.mixup = mixup_options(config.augment, num_classes);
  train.pin_memory = pin_memory;
  if (train.mixup && train.batch_size % 2 != 0)
    throw Error("data.batch_size: Mixup/CutMix needs an even batch size, got " + std::to_string(train.batch_size));
  const auto train_transform = std::make_shared<data::TrainTransform>(train_transform_options(config, img_size));
  d.train_loader = std::make_unique<data::DataLoader>(
      d.train.samples, [train_transform](const data::EncodedImage& image, data::Rng& rng) { return (*train_transform)(image, rng); },
      train);
  if (d.train_loader->batches_per_epoch() == 0)
    throw Error("data.batch_size: " + std::to_string(train.batch_size) + " is larger than this rank's share of the " +
                std::to_string(d.train.samples.size()) + " training images");

  image::EvalTransformOptions eval_transform;
  eval_transform.img_size = static_cast<int>(img_size);
  eval_transform.crop_pct = config.data.crop_pct;
  eval_transform.interpolation = config.data.interpolation;
  eval_transform.mean = config.data.mean;
  eval_transform.std = config.data.std;
  const auto eval_batch = config.data.eval_batch_size;
  d.val_loader = make_eval_loader(d.val.samples, eval_transform, eval_batch > 0 ? eval_batch : 2 * train.batch_size,
                                  train.workers, sharding.rank, sharding.world_size);
  return d;
}

}  // namespace tervit::engine
