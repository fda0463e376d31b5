#pragma once
// DistributedDataParallel's gradient averaging for the C++ frontend, on a tervit::engine::ProcessGroup.
// The trained tensors are grouped into flat buckets (the first of about 1 MB, the others of about 25 MB,
// as in DDP). A hook on each tensor's gradient accumulator copies its gradient into its bucket once
// backward has produced it, and a bucket whose gradients are all in starts its all-reduce while backward
// goes on. Buckets start strictly in order, since every rank must start its collectives in the same
// order. After the first reducing pass the buckets are rebuilt in the order gradients really arrived
// (rank 0's order, broadcast), so that they fill one after another.
//
// Gradient accumulation: only the pass that ends an accumulation group communicates; the passes before
// it accumulate locally (prepare(false)).
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "tervit/engine/process_group.h"

namespace tervit::engine {

struct GradientReducerOptions {
  int64_t bucket_bytes = int64_t{25} << 20;
  int64_t first_bucket_bytes = int64_t{1} << 20;
};

class GradientReducer {
 public:
  // `parameters`: the tensors whose gradients are averaged (those without requires_grad are skipped).
  GradientReducer(const std::vector<torch::Tensor>& parameters, std::shared_ptr<ProcessGroup> group,
                  GradientReducerOptions options = {});
  ~GradientReducer();  // removes its hooks
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // Before each backward pass: true when the pass ends an accumulation group (its gradients are
  // reduced), false for the passes before it.
  void prepare(bool reduce);
  // After a reducing backward pass: starts the buckets that are still incomplete (a tensor that got no
  // gradient in this pass contributes its accumulated gradient, or zeros), waits for every bucket, and
  // replaces each defined gradient by the mean over the ranks. Every rank must call it at the same step.
  void finish();

  int64_t bucket_count() const;
  // Seconds the last finish() took: the communication that backward did not hide, and the copy back.
  double last_finish_seconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tervit::engine
