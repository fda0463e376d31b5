#pragma once
// A packed file's architecture as the runtime reads it from the metadata ("family" and "config", written
// by deploy::architecture_metadata): the fields that shape the weights and the forward pass.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tervit::runtime {

struct Architecture {
  std::string family;  // "deit" or "swin"
  int64_t img_size = 0, patch_size = 0, in_chans = 0, num_classes = 0, embed_dim = 0;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  // deit
  int64_t depth = 0, num_heads = 0;
  bool distilled = false;
  // swin: per stage
  std::vector<int64_t> depths, stage_heads;
  int64_t window_size = 0;

  int64_t hidden(int64_t dim) const { return static_cast<int64_t>(dim * mlp_ratio); }  // as the models round it
};

// Throws tervit::Error naming `source` and the field when the metadata lacks a field, holds a value of the
// wrong type or one no model can be built from.
Architecture read_architecture(const std::map<std::string, std::string>& metadata, const std::string& source);

}  // namespace tervit::runtime
