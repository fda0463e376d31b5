// Gradient averaging over a two-rank Gloo group, the ranks being two threads of the test; and on a GPU, over NCCL.
#include <catch2/catch.hpp>

#include <thread>

#include "test_helpers.h"
#include "tervit/engine/gradient_reducer.h"

using tervit::engine::GradientReducer;
using tervit::engine::ProcessGroup;
using tervit::engine::Rendezvous;

namespace {

struct Net {
  torch::nn::Sequential layers{torch::nn::Linear(4, 16), torch::nn::ReLU(), torch::nn::Linear(16, 3)};
  torch::Tensor unused = torch::zeros({5}, torch::requires_grad());  // never in the forward pass
  std::vector<torch::Tensor> parameters() {
    auto all = layers->parameters();
    all.push_back(unused);
    return all;
  }
};

// The micro-batch a rank trains on in an accumulation group.
torch::Tensor inputs(int rank, int step, int micro) {
  return torch::linspace(-1.0, 1.0, 8).reshape({2, 4}) * (1.0 + rank) + static_cast<double>(10 * step + micro);
}

void backward(Net& net, const torch::Tensor& x) { net.layers->forward(x).pow(2).sum().backward(); }

}  // namespace

TEST_CASE("Gradients are averaged over the ranks in buckets, once per accumulation group", "[engine][dist]") {
  constexpr int kSteps = 2, kMicro = 3;
  if (!ProcessGroup::backend_available(torch::kCPU)) {  // e.g. a pip wheel's LibTorch: no gloo/ headers
    CHECK_THROWS_WITH(ProcessGroup(Rendezvous{0, 1, 0, "127.0.0.1", tervit::testing::free_port(), "test"}, torch::kCPU,
                                   std::chrono::seconds(5)),
                      Catch::Contains("needs Gloo"));
    tervit::testing::skip_test("this build has no Gloo: CPU data parallelism was not tested");
    return;
  }
  std::vector<Net> nets(3);  // two ranks and the reference: the same start
  for (auto& net : nets) {
    torch::manual_seed(0);
    net.layers = torch::nn::Sequential(torch::nn::Linear(4, 16), torch::nn::ReLU(), torch::nn::Linear(16, 3));
  }
  const int port = tervit::testing::free_port();
  std::vector<std::vector<std::vector<torch::Tensor>>> grads(2);  // rank, step, parameter
  std::vector<int64_t> buckets(2);
  std::vector<std::string> errors(2);
  const auto rank_thread = [&](int rank) {
    try {
      auto group = std::make_shared<ProcessGroup>(Rendezvous{rank, 2, rank, "127.0.0.1", port, "test"}, torch::kCPU,
                                                  std::chrono::seconds(30));
      // Tiny buckets: several of them, started in order while backward runs.
      GradientReducer reducer(nets[rank].parameters(), group, {/*bucket_bytes=*/256, /*first_bucket_bytes=*/64});
      buckets[rank] = reducer.bucket_count();
      for (int step = 0; step < kSteps; ++step) {  // the second step runs on the buckets rebuilt in arrival order
        for (auto& p : nets[rank].parameters()) p.mutable_grad() = torch::Tensor();
        for (int micro = 0; micro < kMicro; ++micro) {
          reducer.prepare(micro == kMicro - 1);
          backward(nets[rank], inputs(rank, step, micro));
        }
        reducer.finish();
        grads[rank].emplace_back();
        for (auto& p : nets[rank].parameters()) grads[rank].back().push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
      }
    } catch (const std::exception& e) {
      errors[rank] = e.what();
    }
  };
  std::thread rank0(rank_thread, 0), rank1(rank_thread, 1);
  rank0.join();
  rank1.join();
  INFO(errors[0] << errors[1]);
  REQUIRE(errors[0].empty());
  REQUIRE(errors[1].empty());
  CHECK(buckets[0] >= 3);

  // The mean over the ranks of each rank's gradient summed over its micro-batches.
  auto& reference = nets[2];
  for (int step = 0; step < kSteps; ++step) {
    for (auto& p : reference.parameters()) p.mutable_grad() = torch::Tensor();
    for (int rank = 0; rank < 2; ++rank)
      for (int micro = 0; micro < kMicro; ++micro) backward(reference, inputs(rank, step, micro));
    const auto expected = reference.parameters();
    for (size_t i = 0; i < expected.size(); ++i) {
      INFO("step " << step << " parameter " << i);
      if (!expected[i].grad().defined()) {  // the unused tensor keeps no gradient on any rank
        CHECK_FALSE(grads[0][step][i].defined());
        CHECK_FALSE(grads[1][step][i].defined());
        continue;
      }
      const auto mean = expected[i].grad() / 2;
      CHECK(tervit::testing::relative_error(grads[0][step][i], mean) < 1e-6);
      CHECK(torch::equal(grads[0][step][i], grads[1][step][i]));
    }
  }
}

TEST_CASE("On CUDA the group is NCCL: gradients, sums and broadcasts of GPU tensors go through it", "[engine][dist][cuda]") {
  const Rendezvous alone{0, 1, 0, "127.0.0.1", tervit::testing::free_port(), "test"};
  if (!torch::cuda::is_available()) {
    // No GPU (or a LibTorch without NCCL): a CUDA group is refused at once, not left hanging.
    CHECK_THROWS(ProcessGroup(alone, torch::kCUDA, std::chrono::seconds(5)));
    tervit::testing::skip_test("no CUDA device: NCCL was not tested");
    return;
  }
  // One GPU holds one rank (NCCL refuses two ranks on one device): the mean over the group is the rank's
  // own sum over its micro-batches, reached through NCCL all-reduces on the GPU.
  auto group = std::make_shared<ProcessGroup>(alone, torch::Device(torch::kCUDA, 0), std::chrono::seconds(30));
  CHECK(group->backend_name() == "nccl");
  std::vector<Net> nets(2);  // on the GPU, and the CPU reference
  for (auto& net : nets) {
    torch::manual_seed(0);
    net.layers = torch::nn::Sequential(torch::nn::Linear(4, 16), torch::nn::ReLU(), torch::nn::Linear(16, 3));
  }
  nets[0].layers->to(torch::kCUDA);
  nets[0].unused = torch::zeros({5}, torch::TensorOptions(torch::kCUDA).requires_grad(true));
  GradientReducer reducer(nets[0].parameters(), group, {/*bucket_bytes=*/256, /*first_bucket_bytes=*/64});
  CHECK(reducer.bucket_count() >= 3);
  for (int micro = 0; micro < 3; ++micro) {
    reducer.prepare(micro == 2);
    backward(nets[0], inputs(0, 0, micro).cuda());
    backward(nets[1], inputs(0, 0, micro));
  }
  reducer.finish();
  const auto gpu = nets[0].parameters(), cpu = nets[1].parameters();
  for (size_t i = 0; i < gpu.size(); ++i) {
    INFO("parameter " << i);
    REQUIRE(gpu[i].grad().defined() == cpu[i].grad().defined());
    if (!cpu[i].grad().defined()) continue;
    CHECK(gpu[i].grad().is_cuda());
    CHECK(tervit::testing::relative_error(gpu[i].grad().cpu(), cpu[i].grad()) < 1e-5);
  }

  auto sum = torch::arange(6, torch::TensorOptions(torch::kCUDA).dtype(torch::kFloat));
  group->all_reduce_sum(sum).wait();
  CHECK(torch::equal(sum.cpu(), torch::arange(6, torch::kFloat)));
  std::vector<torch::Tensor> state{torch::full({3}, 2.5, torch::kCUDA), torch::arange(4, torch::TensorOptions(torch::kCUDA).dtype(torch::kLong))};
  group->broadcast(state);
  CHECK(torch::equal(state[0].cpu(), torch::full({3}, 2.5)));
  CHECK(torch::equal(state[1].cpu(), torch::arange(4, torch::kLong)));
}
