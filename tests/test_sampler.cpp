#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

#include "tervit/core/error.h"
#include "tervit/data/sampler.h"

using namespace tervit::data;

TEST_CASE("Sampler: PyTorch's DistributedSampler order", "[loader]") {
  // torch.utils.data.DistributedSampler(range(7), num_replicas=3, rank=r, shuffle=True, seed=5), set_epoch(2)
  SamplerOptions options;
  options.seed = 5;
  options.world_size = 3;
  const std::vector<std::vector<int64_t>> expected{{5, 1, 4}, {0, 2, 5}, {3, 6, 0}};
  for (int64_t rank = 0; rank < 3; ++rank) {
    options.rank = rank;
    CHECK(epoch_indices(7, 2, options) == expected[static_cast<size_t>(rank)]);
  }
  SamplerOptions single;
  single.seed = 0;
  // torch.randperm(10, generator=torch.Generator().manual_seed(0))
  CHECK(epoch_indices(10, 0, single) == std::vector<int64_t>{4, 1, 7, 5, 3, 9, 0, 8, 6, 2});
  CHECK(epoch_indices(10, 1, single) != epoch_indices(10, 0, single));
  single.shuffle = false;
  CHECK(epoch_indices(4, 3, single) == std::vector<int64_t>{0, 1, 2, 3});
}

TEST_CASE("Sampler: shards cover every index once, plus padding", "[loader]") {
  for (const int64_t size : {1, 2, 10, 97, 100}) {
    for (const int64_t world : {1, 2, 3, 8}) {
      SamplerOptions options;
      options.seed = 17;
      options.world_size = world;
      std::map<int64_t, int> visits;
      size_t per_rank = 0;
      for (int64_t rank = 0; rank < world; ++rank) {
        options.rank = rank;
        const auto shard = epoch_indices(size, 4, options);
        if (rank == 0) per_rank = shard.size();
        REQUIRE(shard.size() == per_rank);  // equal shards: collective ops stay in step
        for (const int64_t index : shard) ++visits[index];
      }
      const int64_t padded = static_cast<int64_t>(per_rank) * world;
      CHECK(padded == (size + world - 1) / world * world);
      CHECK(static_cast<int64_t>(visits.size()) == size);  // every index
      int64_t extra = 0;
      for (const auto& [index, count] : visits) {
        CHECK(count >= 1);
        extra += count - 1;
      }
      CHECK(extra == padded - size);  // padding only
    }
  }
}

TEST_CASE("Sampler: drop_last drops the uneven tail", "[loader]") {
  SamplerOptions options;
  options.shuffle = false;
  options.world_size = 3;
  options.drop_last = true;
  std::vector<int64_t> all;
  for (int64_t rank = 0; rank < 3; ++rank) {
    options.rank = rank;
    const auto shard = epoch_indices(10, 0, options);
    CHECK(shard.size() == 3);
    all.insert(all.end(), shard.begin(), shard.end());
  }
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("Sampler: an unpadded split gives each index to exactly one rank (evaluation)", "[loader]") {
  SamplerOptions options;
  options.shuffle = false;
  options.pad = false;
  options.world_size = 3;
  const std::vector<std::vector<int64_t>> expected{{0, 3, 6, 9}, {1, 4, 7}, {2, 5, 8}};
  for (int64_t rank = 0; rank < 3; ++rank) {
    options.rank = rank;
    CHECK(epoch_indices(10, 0, options) == expected[static_cast<size_t>(rank)]);
  }
  options.rank = 2;
  CHECK(epoch_indices(2, 0, options).empty());  // fewer images than ranks
  options.drop_last = true;
  CHECK_THROWS_WITH(epoch_indices(10, 0, options), Catch::Contains("pad"));
}

TEST_CASE("Sampler: repeated augmentation as DeiT's RASampler", "[loader]") {
  SamplerOptions options;
  options.shuffle = false;
  options.repeats = 3;
  options.world_size = 2;
  // 512 images, 3 repeats: [0,0,0,1,1,1,...] sharded; each rank keeps 512 // 256 * 256 / 2 = 256.
  options.rank = 0;
  const auto rank0 = epoch_indices(512, 0, options);
  options.rank = 1;
  const auto rank1 = epoch_indices(512, 0, options);
  REQUIRE(rank0.size() == 256);
  REQUIRE(rank1.size() == 256);
  CHECK(std::vector<int64_t>(rank0.begin(), rank0.begin() + 6) == std::vector<int64_t>{0, 0, 1, 2, 2, 3});
  CHECK(std::vector<int64_t>(rank1.begin(), rank1.begin() + 6) == std::vector<int64_t>{0, 1, 1, 2, 3, 3});
  // a small set keeps ceil(n / world) positions instead of none
  CHECK(epoch_indices(4, 0, options).size() == 2);
}

TEST_CASE("Sampler: invalid options", "[loader]") {
  SamplerOptions options;
  options.world_size = 2;
  options.rank = 2;
  CHECK_THROWS_WITH(epoch_indices(10, 0, options), Catch::Contains("rank 2"));
  options.rank = 0;
  options.world_size = 0;
  CHECK_THROWS_AS(epoch_indices(10, 0, options), tervit::Error);
  options.world_size = 1;
  options.repeats = 0;
  CHECK_THROWS_WITH(epoch_indices(10, 0, options), Catch::Contains("repeats"));
  options.repeats = 1;
  CHECK(epoch_indices(0, 0, options).empty());
}
