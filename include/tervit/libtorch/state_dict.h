#pragma once
// A module's named tensors (parameters and buffers) as a TensorMap, and loading such a map back into a
// module with a report of what did not match: the C++ counterpart of PyTorch's state_dict() and
// load_state_dict(), plus timm's habit of dropping a classifier whose shape differs.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tervit/libtorch/safetensors.h"

namespace tervit {

// named_parameters and named_buffers, recursive, detached (sharing storage with the module), under
// LibTorch's dot-separated names such as "blocks.0.attn.qkv.weight".
TensorMap module_state_dict(const torch::nn::Module& module);

struct ShapeMismatch {
  std::string name;
  std::vector<int64_t> expected;  // the module's shape
  std::vector<int64_t> got;       // the loaded tensor's shape
};

struct LoadOptions {
  // Any missing, unexpected or mismatched name is an error, thrown before the module is modified.
  bool strict = true;
  // Tensors under these prefixes (e.g. "head.") whose shape differs are dropped and the module keeps
  // its own initialisation, as timm does for a classifier trained on another number of classes.
  std::vector<std::string> droppable_prefixes;
};

struct LoadReport {
  std::vector<std::string> missing;     // in the module, not in the tensors
  std::vector<std::string> unexpected;  // in the tensors, not in the module
  std::vector<std::string> dropped;     // shape differs under a droppable prefix; not an error
  std::vector<ShapeMismatch> mismatched;

  // Nothing missing, unexpected or mismatched (dropped is fine).
  bool clean() const;
  // Every name of every list, mismatches as "name: model [a, b] vs file [c, d]".
  std::string summary() const;
};

// Copies `tensors` into the module's parameters and buffers, converting each to the dtype and device of
// the module's tensor. `source` (e.g. the file path) starts every error message.
LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors, const LoadOptions& options = {},
                           const std::string& source = "state dict");

}  // namespace tervit
