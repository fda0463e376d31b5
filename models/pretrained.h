#pragma once
// Loading weights into a model: timm safetensors as they are, and the official Swin and DeiT
// checkpoints (converted from .pth by tools/pth_to_safetensors.py) remapped to timm's names.
#include <filesystem>
#include <map>
#include <optional>

#include "models/registry.h"
#include "tervit/libtorch/state_dict.h"

namespace tervit::models {

// Official Swin repository layout (downsample at the END of stages, `head.weight`, persisted
// relative_position_index / attn_mask buffers) -> timm's layout. Other state dicts pass unchanged,
// so this is safe to apply to anything. Patch merging needs no channel reorder: timm's merge order
// equals the official x0, x1, x2, x3 concatenation.
TensorMap remap_to_timm(const TensorMap& tensors);

struct WeightsOptions {
  bool strict = true;
  // Drop classifier tensors whose class count differs from the model's (fine-tuning to a new task).
  bool drop_mismatched_head = false;
};

LoadReport load_weights(VisionModelImpl& model, const std::filesystem::path& file, const WeightsOptions& options = {});
LoadReport load_weights(VisionModelImpl& model, const SafetensorsData& weights, const std::string& source,
                        const WeightsOptions& options = {});


// timm's default eval crop_pct for the family: 0.875 for DeiT, 0.9 for Swin.
double default_crop_pct(const ModelArchitecture& architecture);

}  // namespace tervit::models
