#pragma once
// tervit's LibTorch-free inference runtime: a packed model file (deploy/packed_format.h) run by the packed
// ternary kernels and the float operations of float_ops.h, in a process that never loads LibTorch, so that
// its memory is the packed weights and a few activations. It computes what deploy::load_packed_model's
// LibTorch model computes, in the same modes, up to float reassociation.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tervit/kernels/int8_attention.h"
#include "tervit/kernels/packed_matmul.h"
#include "tervit/kernels/packed_matrix.h"
#include "tervit/runtime/architecture.h"
#include "tervit/runtime/weight_file.h"

namespace tervit::runtime {

// One architecture family's forward pass.
class Network {
 public:
  virtual ~Network() = default;
  // image: in_chans x img_size x img_size (normalized, row-major); logits: num_classes values.
  virtual void forward(const float* image, float* logits) const = 0;
};

struct Model {
  std::unique_ptr<Network> network;
  Architecture architecture;
  kernels::PackedBits bits = kernels::PackedBits::k2;
  kernels::PackedMode mode = kernels::PackedMode::kInt8;
  kernels::AttentionPrecision attention = kernels::AttentionPrecision::kFloat;
  std::vector<std::string> class_names;  // empty when the file has none
  int64_t packed_layers = 0;             // layers run by the packed kernels; the others in float

  // images: batch x in_chans x img_size x img_size; returns batch x num_classes logits.
  std::vector<float> forward(const float* images, int64_t batch) const;
};

// Reads and checks the whole file (format, architecture, every tensor's presence, dtype and shape, every
// packed byte); throws tervit::Error naming the file and the culprit. A 2-bit file's bytes stay in memory
// with the model, whose packed matrices use them in place; a 1.6-bit file's are released before it
// returns (its matrices are repacked). `attention` int8 runs attention's products in integers too
// (int8_attention.h), which the LibTorch packed model does not: float is what it computes.
Model load_model(const std::filesystem::path& path, kernels::PackedMode mode,
                 kernels::AttentionPrecision attention = kernels::AttentionPrecision::kFloat);
Model load_model(WeightFile file, kernels::PackedMode mode, kernels::AttentionPrecision attention = kernels::AttentionPrecision::kFloat);

// The OpenMP threads every later forward pass uses (at least 1; fewer while other processes hold cores:
// adapt_threads in thread_budget.h).
void set_threads(int threads);

}  // namespace tervit::runtime
