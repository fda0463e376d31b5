#pragma once
// The graph of each model family, from `images` to the name of the logits tensor (onnx_export.h).
#include <string>

#include "models/deit.h"
#include "models/swin.h"
#include "src/deploy/onnx_layers.h"

namespace tervit::deploy {

std::string deit_graph(OnnxLayers& layers, const models::DeiTOptions& options, const std::string& images);
// Swin's window sizes and shifts are read from the model's blocks (which clamp them to small maps).
std::string swin_graph(OnnxLayers& layers, models::SwinImpl& model, const std::string& images);

}  // namespace tervit::deploy
