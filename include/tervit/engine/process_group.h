#pragma once
// A data-parallel process group on PyTorch's c10d: a TCPStore served by rank 0 for the rendezvous, then
// ProcessGroupGloo for CPU tensors or ProcessGroupNCCL for CUDA tensors (one GPU per process). This is
// the only place that includes c10d, so the differences between LibTorch 1.13 and 2.x stay in
// process_group.cpp.
//
// Failures: every collective and the rendezvous itself give up after `timeout` (a rank that died, hung
// or never started) and throw std::runtime_error naming the operation, this rank and the timeout.
#include <torch/torch.h>

#include <chrono>
#include <memory>
#include <vector>

#include "tervit/engine/rendezvous.h"

namespace tervit::engine {

// A collective in flight. wait() blocks until it is done (on CUDA: until the current stream is ordered
// after it) and throws std::runtime_error when it failed or timed out.
class PendingCollective {
 public:
  struct Impl;
  explicit PendingCollective(std::shared_ptr<Impl> impl);
  void wait();

 private:
  std::shared_ptr<Impl> impl_;
};

class ProcessGroup {
 public:
  // Joins the group of `rendezvous.world_size` processes; tensors live on `device` (CPU: Gloo, CUDA:
  // NCCL; a LibTorch without NCCL gives tervit::Error for CUDA). Blocks until every rank has joined.
  ProcessGroup(const Rendezvous& rendezvous, const torch::Device& device, std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // Whether this build can form a group on `device`: Gloo for the CPU, NCCL for CUDA (a LibTorch built with
  // the backend, and its headers found when tervit was built).
  static bool backend_available(const torch::Device& device);

  int64_t rank() const;
  int64_t world_size() const;
  const torch::Device& device() const;
  std::string backend_name() const;  // "gloo" or "nccl"

  // Starts summing `tensor` (contiguous, on device()) over the ranks, in place.
  PendingCollective all_reduce_sum(torch::Tensor tensor);
  // Copies rank `root`'s values of `tensors` into every rank's, in place (any dtypes and shapes; the
  // ranks must pass the same list). Blocks until done.
  void broadcast(const std::vector<torch::Tensor>& tensors, int64_t root = 0);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The device a data-parallel process trains on: `requested` for CPU; for CUDA the GPU of its local rank
// (tervit::Error when that GPU does not exist, or when `requested` names another index).
torch::Device device_for_local_rank(const torch::Device& requested, const Rendezvous& rendezvous);

}  // namespace tervit::engine
