#include <catch2/catch.hpp>

#include "tervit/core/error.h"
#include "tervit/data/mixup.h"

using namespace tervit::data;

TEST_CASE("mixup_target: timm's smoothing values", "[loader]") {
  const torch::Tensor labels = torch::tensor({0, 2}, torch::kLong);
  const torch::Tensor plain = mixup_target(labels, 4, 1.0, 0.1);
  CHECK(plain[0][0].item<float>() == Approx(0.925));  // 1 - 0.1 + 0.1 / 4
  CHECK(plain[0][1].item<float>() == Approx(0.025));
  const torch::Tensor mixed = mixup_target(labels, 4, 0.7, 0.1);
  // row 0 mixes its own label 0 (0.7) with its mirror's label 2 (0.3)
  CHECK(mixed[0][0].item<float>() == Approx(0.7 * 0.925 + 0.3 * 0.025));
  CHECK(mixed[0][2].item<float>() == Approx(0.3 * 0.925 + 0.7 * 0.025));
  CHECK(mixed.sum(1).allclose(torch::ones({2})));
}

TEST_CASE("Mixup/CutMix: targets sum to 1, lambda matches the pasted area", "[loader]") {
  MixupOptions options;
  options.num_classes = 10;
  Rng rng(42);
  int cutmix_batches = 0;
  int mixup_batches = 0;
  for (int i = 0; i < 200; ++i) {
    // Image b holds the value b everywhere, so the mix of each pixel is visible.
    torch::Tensor images = torch::arange(8, torch::kFloat).view({8, 1, 1, 1}).expand({8, 3, 16, 20}).contiguous();
    const torch::Tensor original = images.clone();
    const torch::Tensor labels = torch::arange(8, torch::kLong);
    const MixResult result = mix_batch(images, labels, options, rng);
    REQUIRE(result.targets.sizes() == torch::IntArrayRef{8, 10});
    CHECK(result.targets.sum(1).allclose(torch::ones({8})));
    CHECK(result.targets.min().item<float>() >= 0.01f - 1e-6f);  // smoothing / num_classes
    CHECK(result.lambda >= 0.0);
    CHECK(result.lambda <= 1.0);
    if (result.cutmix) {
      ++cutmix_batches;
      // Corrected lambda = share of each image's own pixels.
      const double own = images.eq(original).to(torch::kFloat).mean().item<double>();
      CHECK(own == Approx(result.lambda).margin(1e-6));
      CHECK(1.0 - result.lambda == Approx(static_cast<double>(result.box.area()) / (16 * 20)));
      CHECK(result.box.x >= 0);
      CHECK(result.box.x + result.box.width <= 20);
      CHECK(result.box.y + result.box.height <= 16);
    } else {
      ++mixup_batches;
      // image 0 = lambda * 0 + (1 - lambda) * 7
      CHECK(images[0][0][0][0].item<float>() == Approx(7.0 * (1.0 - result.lambda)).margin(1e-4));
    }
    CHECK(result.targets[0][0].item<float>() == Approx(result.lambda * 0.9 + 0.01).margin(1e-5));
  }
  CHECK(cutmix_batches > 60);  // switch probability 0.5
  CHECK(mixup_batches > 60);
}

TEST_CASE("Mixup: determinism, disabled modes and errors", "[loader]") {
  MixupOptions options;
  options.num_classes = 5;
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3}, torch::kLong);
  torch::Tensor a = torch::rand({4, 3, 8, 8});
  torch::Tensor b = a.clone();
  Rng rng_a(3), rng_b(3);
  CHECK(torch::equal(mix_batch(a, labels, options, rng_a).targets, mix_batch(b, labels, options, rng_b).targets));
  CHECK(torch::equal(a, b));

  options.prob = 0.0;
  torch::Tensor untouched = torch::rand({4, 3, 8, 8});
  const torch::Tensor copy = untouched.clone();
  const MixResult off = mix_batch(untouched, labels, options, rng_a);
  CHECK(off.lambda == 1.0);
  CHECK(torch::equal(untouched, copy));
  CHECK(off.targets[1][1].item<float>() == Approx(0.92));

  options.prob = 1.0;
  options.mixup_alpha = 0.0;
  CHECK(mix_batch(untouched, labels, options, rng_a).cutmix);

  torch::Tensor odd = torch::rand({3, 3, 8, 8});
  CHECK_THROWS_WITH(mix_batch(odd, torch::tensor({0, 1, 2}, torch::kLong), options, rng_a), Catch::Contains("even"));
  CHECK_THROWS_WITH(mix_batch(untouched, torch::tensor({0, 1, 2, 9}, torch::kLong), options, rng_a),
                    Catch::Contains("label"));
  options.label_smoothing = 1.0;
  CHECK_THROWS_AS(mix_batch(untouched, labels, options, rng_a), tervit::Error);
}
