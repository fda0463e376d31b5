#pragma once
// The training data loader: worker threads read, decode and augment samples into batches and keep a
// bounded number of batches ready ahead of the trainer. Batch i of an epoch depends only on (seed,
// epoch, rank, i): each sample's augmentation draws from an Rng seeded from (seed, epoch, rank, i, slot),
// never from a shared stream, so the output is the same for any number of threads and any timing.
// A bad file (unreadable, empty, truncated, not an image) never stops a run: it is replaced by another
// sample chosen from the same seeded stream, so batches keep their size, and logged once with its path.
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <opencv2/core.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tervit/data/encoded_image.h"
#include "tervit/data/image_folder.h"
#include "tervit/data/mixup.h"
#include "tervit/data/random.h"
#include "tervit/data/sampler.h"

namespace tervit::data {

// An image file as read, decoded by the transform (see EncodedImage) -> float [C, H, W], the same shape for
// every sample. A TrainTransform decodes only its crop; a callable taking `const cv::Mat& rgb8` fits too
// and gets the whole decoded image.
using SampleTransform = std::function<torch::Tensor(const EncodedImage& image, Rng& rng)>;

struct LoaderOptions {
  int64_t batch_size = 64;
  int workers = 2;           // threads; 0 builds each batch on the thread that calls next()
  int prefetch_batches = 4;  // batches being built or ready at most
  bool drop_last = true;     // drop the last incomplete batch (DataLoader's drop_last)
  SamplerOptions sampler;    // shuffle, seed, sharding (rank, world_size), repeated augmentation
  std::optional<MixupOptions> mixup;  // applied to each collated batch; needs an even batch_size and drop_last
  bool pin_memory = false;   // page-locked batches for faster copies to the GPU; only when CUDA is available
  int max_replacements = 100;  // tries to find a readable file for one slot before giving up
};

struct Batch {
  int64_t index = 0;      // position in the epoch
  torch::Tensor images;   // float [B, C, H, W]
  torch::Tensor labels;   // int64 [B], of the samples actually used (replacements included)
  torch::Tensor targets;  // float [B, num_classes] soft targets with mixup, undefined otherwise
};

// start_epoch and next are called from one thread (the trainer's); the workers are internal.
class DataLoader {
 public:
  // Throws tervit::Error for an empty sample list or invalid options.
  DataLoader(std::vector<Sample> samples, SampleTransform transform, LoaderOptions options);
  // Stops the workers, also in the middle of an epoch.
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts (or restarts) an epoch: its sample order and augmentations follow from (seed, epoch).
  // first_batch > 0 continues an epoch where a resumed run left it (the batches before it are skipped,
  // not built).
  void start_epoch(int64_t epoch, int64_t first_batch = 0);

  // The epoch's next batch in order, waiting for it if needed; nullopt after the last one. Rethrows an
  // error a worker met (e.g. a transform error, or max_replacements bad files in a row).
  std::optional<Batch> next();

  int64_t batches_per_epoch() const;
  // Distinct bad files met so far (each logged once), in path order.
  std::vector<std::string> bad_files() const;
  int64_t bad_file_count() const;

 private:
  struct Result {
    Batch batch;
    std::exception_ptr error;
  };

  Batch build_batch(int64_t batch_index) const;
  // The transformed image and label for one slot of a batch, replacing bad files (also those found bad
  // only while the transform decodes them).
  std::pair<torch::Tensor, int64_t> load_sample(int64_t batch_index, int64_t slot, int64_t position) const;
  // True when the file was not known bad yet (so it gets logged once).
  bool note_bad_file(const std::string& path) const;
  bool is_known_bad(const std::string& path) const;
  void worker_loop();
  void stop_workers();

  const std::vector<Sample> samples_;
  const SampleTransform transform_;
  const LoaderOptions options_;

  // The current epoch; written only while no worker runs.
  int64_t epoch_ = -1;
  std::vector<int64_t> order_;
  int64_t num_batches_ = 0;

  std::mutex mutex_;  // guards the fields below
  std::condition_variable work_available_;
  std::condition_variable batch_ready_;
  int64_t next_to_build_ = 0;
  int64_t next_to_yield_ = 0;
  std::map<int64_t, Result> ready_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;

  mutable std::mutex bad_files_mutex_;
  mutable std::set<std::string> bad_files_;
};

}  // namespace tervit::data
