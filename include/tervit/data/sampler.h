#pragma once
// Which dataset positions a process visits in an epoch: shuffling, distributed sharding and DeiT's
// repeated augmentation, with the index sequences of PyTorch's DistributedSampler and DeiT's RASampler
// (the permutation is torch.randperm with a generator seeded seed + epoch, so the order equals PyTorch's).
#include <cstdint>
#include <vector>

namespace tervit::data {

struct SamplerOptions {
  bool shuffle = true;
  uint64_t seed = 0;
  int64_t rank = 0;
  int64_t world_size = 1;
  // DistributedSampler's drop_last: drop the tail so that ranks split evenly instead of padding.
  bool drop_last = false;
  // false: no padding, the ranks split the set exactly (shares may differ by one), so that an evaluation
  // summed over the ranks counts every image once. Only with repeats == 1 and drop_last false.
  bool pad = true;
  // DeiT's repeated augmentation (3 in DeiT): each index repeated, then sharded, so that a rank sees
  // the repeats of another rank's images; 1 disables it.
  int64_t repeats = 1;
};

// Throws tervit::Error for world_size < 1, rank outside [0, world_size), repeats < 1.
void validate_sampler_options(const SamplerOptions& options);

// The positions (into a dataset of dataset_size) this rank visits in `epoch`, in order.
// repeats == 1: DistributedSampler: permutation (or 0..n-1), padded by repeating its start up to a
// multiple of world_size (or cut down to one when drop_last; neither when !pad), then every
// world_size-th from rank.
// repeats > 1: RASampler: each index repeated, padded, sharded, then cut to
// floor(n // 256 * 256 / world_size) positions (ceil(n / world_size) when that is 0, for small sets).
std::vector<int64_t> epoch_indices(int64_t dataset_size, int64_t epoch, const SamplerOptions& options);

}  // namespace tervit::data
