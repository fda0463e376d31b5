#include "tervit/data/loader.h"

#include <opencv2/core.hpp>
#include <spdlog/spdlog.h>

#include <new>
#include <optional>
#include <string>
#include <utility>

#include "tervit/core/error.h"
#include "tervit/data/image_decode.h"
#include "tervit/image/image_errors.h"

namespace tervit::data {
namespace {

// Stream tags that keep the seeded streams of one batch apart.
constexpr uint64_t kReplacementStream = 0x7265706c;  // "repl"
constexpr uint64_t kMixupStream = 0x6d697875;        // "mixu"

void validate(const std::vector<Sample>& samples, const LoaderOptions& options) {
  if (samples.empty()) throw Error("data loader: no samples");
  if (options.batch_size < 1) throw Error("data loader: batch_size must be >= 1");
  if (options.workers < 0) throw Error("data loader: workers must be >= 0");
  if (options.prefetch_batches < 1) throw Error("data loader: prefetch_batches must be >= 1");
  if (options.max_replacements < 1) throw Error("data loader: max_replacements must be >= 1");
  validate_sampler_options(options.sampler);
  if (options.mixup) {
    validate_mixup_options(*options.mixup);
    if (options.batch_size % 2 != 0 || !options.drop_last) {
      throw Error("data loader: mixup needs an even batch_size and drop_last (timm mixes a batch with its mirror)");
    }
  }
}

int64_t batch_count(size_t samples, const LoaderOptions& options) {
  const auto count = static_cast<int64_t>(samples);
  return options.drop_last ? count / options.batch_size : (count + options.batch_size - 1) / options.batch_size;
}

}  // namespace

DataLoader::DataLoader(std::vector<Sample> samples, SampleTransform transform, LoaderOptions options)
    : samples_(std::move(samples)), transform_(std::move(transform)), options_(std::move(options)) {
  validate(samples_, options_);
}

DataLoader::~DataLoader() { stop_workers(); }

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  batch_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  stopping_ = false;
}

void DataLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  stop_workers();
  epoch_ = epoch;
  order_ = epoch_indices(static_cast<int64_t>(samples_.size()), epoch, options_.sampler);
  num_batches_ = batch_count(order_.size(), options_);
  if (first_batch < 0 || first_batch > num_batches_)
    throw Error("data loader: batch " + std::to_string(first_batch) + " is outside the epoch's " +
                std::to_string(num_batches_) + " batches");
  next_to_build_ = first_batch;
  next_to_yield_ = first_batch;
  ready_.clear();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back(&DataLoader::worker_loop, this);
}

int64_t DataLoader::batches_per_epoch() const {
  // Every epoch visits the same number of positions.
  return batch_count(epoch_indices(static_cast<int64_t>(samples_.size()), 0, options_.sampler).size(), options_);
}

void DataLoader::worker_loop() {
  while (true) {
    int64_t batch_index = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Bounded: a batch is started only while fewer than prefetch_batches are waiting to be taken.
      work_available_.wait(lock, [&] {
        return stopping_ || next_to_build_ >= num_batches_ || next_to_build_ < next_to_yield_ + options_.prefetch_batches;
      });
      if (stopping_ || next_to_build_ >= num_batches_) return;
      batch_index = next_to_build_++;
    }
    Result result;
    try {
      result.batch = build_batch(batch_index);
    } catch (...) {
      result.error = std::current_exception();
    }
    if (stopping_) return;  // abandoned mid-epoch: nobody will take it
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(batch_index, std::move(result));
    }
    batch_ready_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (epoch_ < 0) throw Error("data loader: call start_epoch before next");
  if (next_to_yield_ >= num_batches_) return std::nullopt;
  if (options_.workers == 0) return build_batch(next_to_yield_++);
  Result result;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    batch_ready_.wait(lock, [&] { return ready_.count(next_to_yield_) > 0; });
    auto found = ready_.find(next_to_yield_);
    result = std::move(found->second);
    ready_.erase(found);
    ++next_to_yield_;
  }
  work_available_.notify_all();
  if (result.error) std::rethrow_exception(result.error);
  return std::move(result.batch);
}

Batch DataLoader::build_batch(int64_t batch_index) const {
  const int64_t begin = batch_index * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order_.size()));
  const uint64_t seed = options_.sampler.seed;
  const auto epoch = static_cast<uint64_t>(epoch_);
  const auto rank = static_cast<uint64_t>(options_.sampler.rank);
  std::vector<torch::Tensor> images;
  std::vector<int64_t> labels;
  for (int64_t slot = 0; slot < end - begin && !stopping_; ++slot) {
    auto [chw, label] = load_sample(batch_index, slot, order_[static_cast<size_t>(begin + slot)]);
    images.push_back(std::move(chw));
    labels.push_back(label);
  }
  if (stopping_) return {};
  Batch batch;
  batch.index = batch_index;
  batch.images = torch::stack(images);
  batch.labels = torch::tensor(labels, torch::kLong);
  if (options_.mixup) {
    Rng rng(mix_seed({seed, epoch, rank, static_cast<uint64_t>(batch_index), kMixupStream}));
    batch.targets = mix_batch(batch.images, batch.labels, *options_.mixup, rng).targets;
  }
  if (options_.pin_memory && torch::cuda::is_available()) batch.images = batch.images.pin_memory();
  return batch;
}

std::pair<torch::Tensor, int64_t> DataLoader::load_sample(int64_t batch_index, int64_t slot, int64_t position) const {
  const uint64_t seed = options_.sampler.seed;
  const auto epoch = static_cast<uint64_t>(epoch_);
  const auto rank = static_cast<uint64_t>(options_.sampler.rank);
  // Replacements come from their own seeded stream, so they are the same on every run and thread.
  Rng replacements(
      mix_seed({seed, epoch, rank, static_cast<uint64_t>(batch_index), static_cast<uint64_t>(slot), kReplacementStream}));
  std::string last_error;
  for (int attempt = 0; attempt < options_.max_replacements; ++attempt) {
    const Sample& sample = samples_[static_cast<size_t>(position)];
    const std::string path = sample.path.string();
    if (is_known_bad(path)) {
      last_error = path + ": known bad file";
    } else {
      std::optional<EncodedImage> image;
      // Whatever one file does to the reader and the decoders skips that file (OpenCV's exceptions and a
      // failed allocation for its pixels included). The transform's own errors (tervit::Error other than a
      // decode error) are bugs or bad options and stop the epoch.
      try {
        image.emplace(EncodedImage::read(sample.path));
      } catch (const std::exception& e) {
        last_error = naming(path, e.what());
      }
      if (image) {
        // The slot's augmentation stream, whichever file fills it.
        Rng rng(mix_seed({seed, epoch, rank, static_cast<uint64_t>(batch_index), static_cast<uint64_t>(slot)}));
        try {
          return {transform_(*image, rng), sample.label};
        } catch (const image::ImageDecodeError& e) {  // corrupt data found only while decoding
          last_error = naming(path, e.what());
        } catch (const cv::Exception& e) {  // OpenCV refusing this image's data (an extreme size or shape)
          last_error = naming(path, e.what());
        } catch (const std::bad_alloc&) {
          last_error = path + ": out of memory for its pixels";
        }
      }
      if (note_bad_file(path)) spdlog::warn("skipping bad image file (replaced by another sample): {}", last_error);
    }
    position = uniform_int(replacements, 0, static_cast<int64_t>(samples_.size()) - 1);
  }
  throw Error("data loader: " + std::to_string(options_.max_replacements) +
              " bad files in a row while filling one batch slot; last: " + last_error);
}

bool DataLoader::note_bad_file(const std::string& path) const {
  std::lock_guard<std::mutex> lock(bad_files_mutex_);
  return bad_files_.insert(path).second;
}

bool DataLoader::is_known_bad(const std::string& path) const {
  std::lock_guard<std::mutex> lock(bad_files_mutex_);
  return bad_files_.count(path) > 0;
}

std::vector<std::string> DataLoader::bad_files() const {
  std::lock_guard<std::mutex> lock(bad_files_mutex_);
  return {bad_files_.begin(), bad_files_.end()};
}

int64_t DataLoader::bad_file_count() const {
  std::lock_guard<std::mutex> lock(bad_files_mutex_);
  return static_cast<int64_t>(bad_files_.size());
}

}  // namespace tervit::data
