#include <unistd.h>

#include <catch2/catch.hpp>

#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/libtorch/state_dict.h"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using tervit::TensorMap;

namespace {

// Parameters at two depths plus BatchNorm buffers (float and int64), like a small backbone + classifier.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t classes)
      : stem(register_module("stem", torch::nn::Linear(8, 16))),
        norm(register_module("norm", torch::nn::BatchNorm1d(16))),
        blocks(register_module(
            "blocks", torch::nn::Sequential(torch::nn::Linear(16, 16), torch::nn::ReLU(), torch::nn::Linear(16, 16)))),
        head(register_module("head", torch::nn::Linear(16, classes))) {}

  torch::Tensor forward(const torch::Tensor& x) { return head(blocks->forward(norm(stem(x)))); }

  torch::nn::Linear stem;
  torch::nn::BatchNorm1d norm;
  torch::nn::Sequential blocks;
  torch::nn::Linear head;
};
TORCH_MODULE(Net);

// A freshly initialised net in eval mode whose buffers hold non-default values too.
Net make_net(uint64_t seed, int64_t classes = 10) {
  torch::manual_seed(seed);
  Net net(classes);
  torch::NoGradGuard no_grad;
  net->norm->running_mean.uniform_(-1, 1);
  net->norm->running_var.uniform_(0.5, 2);
  net->norm->num_batches_tracked.fill_(static_cast<int64_t>(seed));
  net->eval();
  return net;
}

TensorMap cloned_state(const Net& net) {
  TensorMap copy;
  for (const auto& [name, tensor] : tervit::module_state_dict(*net)) copy[name] = tensor.clone();
  return copy;
}

void require_equal_states(const TensorMap& a, const TensorMap& b) {
  REQUIRE(a.size() == b.size());
  for (const auto& [name, tensor] : a) {
    INFO(name);
    CHECK(torch::equal(tensor, b.at(name)));
  }
}

}  // namespace

TEST_CASE("module_state_dict holds parameters and buffers under LibTorch's names", "[state_dict]") {
  const Net net = make_net(1);
  const TensorMap state = tervit::module_state_dict(*net);
  std::vector<std::string> names;
  for (const auto& item : state) names.push_back(item.first);
  CHECK(names == std::vector<std::string>{"blocks.0.bias", "blocks.0.weight", "blocks.2.bias", "blocks.2.weight",
                                          "head.bias", "head.weight", "norm.bias", "norm.num_batches_tracked",
                                          "norm.running_mean", "norm.running_var", "norm.weight", "stem.bias",
                                          "stem.weight"});
  CHECK(state.at("stem.weight").sizes() == std::vector<int64_t>{16, 8});
  CHECK_FALSE(state.at("stem.weight").requires_grad());
  CHECK(state.at("norm.num_batches_tracked").item<int64_t>() == 1);
  // Detached, not copied: the tensors share the module's storage.
  CHECK(state.at("head.weight").data_ptr() == net->head->weight.data_ptr());
}

TEST_CASE("state dict round trip through a file reproduces the outputs", "[state_dict]") {
  const fs::path path = fs::temp_directory_path() / ("tervit_sd_" + std::to_string(::getpid()) + ".safetensors");
  Net trained = make_net(1);
  tervit::write_safetensors(path, tervit::module_state_dict(*trained), {{"family", "test"}});

  Net fresh = make_net(2);
  const torch::Tensor x = torch::randn({4, 8});
  REQUIRE_FALSE(torch::allclose(fresh->forward(x), trained->forward(x)));
  const tervit::LoadReport report =
      tervit::load_state_dict(*fresh, tervit::read_safetensors(path).tensors, {}, path.string());
  fs::remove(path);

  CHECK(report.clean());
  CHECK(report.dropped.empty());
  CHECK(report.summary() == "all tensors matched");
  CHECK(torch::equal(fresh->forward(x), trained->forward(x)));
  require_equal_states(cloned_state(fresh), cloned_state(trained));
  CHECK(fresh->head->weight.requires_grad());  // still a trainable parameter
}

TEST_CASE("load_state_dict reports missing, unexpected and mismatched tensors", "[state_dict]") {
  TensorMap tensors = cloned_state(make_net(1));
  tensors.erase("blocks.0.bias");
  tensors["extra.weight"] = torch::ones({3});
  tensors["stem.weight"] = torch::zeros({16, 9});
  Net net = make_net(2);
  const TensorMap before = cloned_state(net);

  SECTION("strict throws before modifying anything") {
    REQUIRE_THROWS_AS(tervit::load_state_dict(*net, tensors, {}, "ckpt.safetensors"), tervit::Error);
    CHECK_THROWS_WITH(tervit::load_state_dict(*net, tensors, {}, "ckpt.safetensors"),
                      StartsWith("ckpt.safetensors: ") &&
                          Contains("'stem.weight' has shape [16, 8] in the model but [16, 9] in the file") &&
                          Contains("missing (1): blocks.0.bias") && Contains("unexpected (1): extra.weight") &&
                          Contains("stem.weight: model [16, 8] vs file [16, 9]"));
    require_equal_states(cloned_state(net), before);
  }

  SECTION("non-strict loads the rest and reports the problems") {
    tervit::LoadOptions lenient;
    lenient.strict = false;
    const tervit::LoadReport report = tervit::load_state_dict(*net, tensors, lenient);
    CHECK_FALSE(report.clean());
    CHECK(report.missing == std::vector<std::string>{"blocks.0.bias"});
    CHECK(report.unexpected == std::vector<std::string>{"extra.weight"});
    CHECK(report.dropped.empty());
    REQUIRE(report.mismatched.size() == 1);
    CHECK(report.mismatched[0].name == "stem.weight");
    CHECK(report.mismatched[0].expected == std::vector<int64_t>{16, 8});
    CHECK(report.mismatched[0].got == std::vector<int64_t>{16, 9});
    CHECK(report.summary() ==
          "missing (1): blocks.0.bias; unexpected (1): extra.weight; mismatched (1): stem.weight: model [16, 8] vs "
          "file [16, 9]");

    const TensorMap after = cloned_state(net);
    CHECK(torch::equal(after.at("head.weight"), tensors.at("head.weight")));
    CHECK(torch::equal(after.at("norm.running_mean"), tensors.at("norm.running_mean")));
    CHECK(after.at("norm.num_batches_tracked").item<int64_t>() == 1);
    CHECK(torch::equal(after.at("stem.weight"), before.at("stem.weight")));
    CHECK(torch::equal(after.at("blocks.0.bias"), before.at("blocks.0.bias")));
  }
}

TEST_CASE("load_state_dict drops a mismatched head under a droppable prefix", "[state_dict]") {
  const TensorMap pretrained = cloned_state(make_net(1, /*classes=*/10));
  Net net = make_net(2, /*classes=*/5);
  const TensorMap before = cloned_state(net);

  CHECK_THROWS_WITH(tervit::load_state_dict(*net, pretrained),
                    StartsWith("state dict: ") && Contains("'head.bias' has shape [5] in the model but [10]") &&
                        Contains("head.weight: model [5, 16] vs file [10, 16]"));

  tervit::LoadOptions options;
  options.droppable_prefixes = {"head."};
  const tervit::LoadReport report = tervit::load_state_dict(*net, pretrained, options);
  CHECK(report.clean());
  CHECK(report.dropped == std::vector<std::string>{"head.bias", "head.weight"});
  CHECK(report.summary() == "dropped (2): head.bias, head.weight");
  const TensorMap after = cloned_state(net);
  CHECK(torch::equal(after.at("head.weight"), before.at("head.weight")));
  CHECK(torch::equal(after.at("stem.weight"), pretrained.at("stem.weight")));
  CHECK(torch::equal(after.at("blocks.2.weight"), pretrained.at("blocks.2.weight")));
}

TEST_CASE("load_state_dict converts half-precision tensors to the module's dtype", "[state_dict]") {
  const TensorMap trained = cloned_state(make_net(1));
  TensorMap half;
  for (const auto& [name, tensor] : trained) {
    half[name] = tensor.is_floating_point() ? tensor.to(torch::kHalf) : tensor;
  }
  Net net = make_net(2);
  CHECK(tervit::load_state_dict(*net, half).clean());
  const TensorMap after = cloned_state(net);
  for (const auto& [name, tensor] : after) {
    INFO(name);
    CHECK(tensor.scalar_type() == trained.at(name).scalar_type());
    CHECK(torch::equal(tensor, half.at(name).to(tensor.scalar_type())));
  }
  CHECK(after.at("head.weight").scalar_type() == torch::kFloat32);
  CHECK(torch::allclose(after.at("head.weight"), trained.at("head.weight"), /*rtol=*/1e-3, /*atol=*/1e-3));
}
