#include "tervit/data/sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <string>

#include "tervit/core/error.h"

namespace tervit::data {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

std::vector<int64_t> base_order(int64_t size, int64_t epoch, const SamplerOptions& options) {
  if (!options.shuffle) {
    std::vector<int64_t> order(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) order[static_cast<size_t>(i)] = i;
    return order;
  }
  // torch.Generator().manual_seed(seed + epoch) and torch.randperm, as the PyTorch samplers do.
  const torch::Tensor permutation =
      torch::randperm(size, at::detail::createCPUGenerator(options.seed + static_cast<uint64_t>(epoch)), torch::kLong);
  const int64_t* data = permutation.data_ptr<int64_t>();
  return {data, data + size};
}

// Extends `order` cyclically to `total` entries (or truncates it), then takes every world_size-th from rank.
std::vector<int64_t> pad_and_shard(const std::vector<int64_t>& order, int64_t total, const SamplerOptions& options) {
  std::vector<int64_t> shard;
  for (int64_t position = options.rank; position < total; position += options.world_size) {
    shard.push_back(order[static_cast<size_t>(position) % order.size()]);
  }
  return shard;
}

}  // namespace

void validate_sampler_options(const SamplerOptions& options) {
  if (options.world_size < 1) throw Error("sampler: world_size must be >= 1, got " + std::to_string(options.world_size));
  if (options.rank < 0 || options.rank >= options.world_size) {
    throw Error("sampler: rank " + std::to_string(options.rank) + " outside [0, " + std::to_string(options.world_size) + ")");
  }
  if (options.repeats < 1) throw Error("sampler: repeats must be >= 1, got " + std::to_string(options.repeats));
  if (!options.pad && (options.repeats != 1 || options.drop_last))
    throw Error("sampler: an unpadded split (pad false) cannot repeat samples or drop the tail");
}

std::vector<int64_t> epoch_indices(int64_t dataset_size, int64_t epoch, const SamplerOptions& options) {
  validate_sampler_options(options);
  if (dataset_size <= 0) return {};
  const int64_t world = options.world_size;
  const std::vector<int64_t> order = base_order(dataset_size, epoch, options);
  if (!options.pad) return pad_and_shard(order, dataset_size, options);
  if (options.repeats == 1) {
    const bool drop_tail = options.drop_last && dataset_size % world != 0;
    const int64_t per_rank = drop_tail ? ceil_div(dataset_size - world, world) : ceil_div(dataset_size, world);
    return pad_and_shard(order, per_rank * world, options);
  }
  std::vector<int64_t> repeated;
  repeated.reserve(order.size() * static_cast<size_t>(options.repeats));
  for (const int64_t index : order) repeated.insert(repeated.end(), static_cast<size_t>(options.repeats), index);
  std::vector<int64_t> shard = pad_and_shard(repeated, ceil_div(dataset_size * options.repeats, world) * world, options);
  int64_t selected = dataset_size / 256 * 256 / world;
  if (selected == 0) selected = ceil_div(dataset_size, world);
  shard.resize(static_cast<size_t>(std::min<int64_t>(selected, static_cast<int64_t>(shard.size()))));
  return shard;
}

}  // namespace tervit::data
