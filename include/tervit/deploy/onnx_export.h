#pragma once
// ONNX export (opset 17, IR 8) of a DeiT or Swin model, float or quantized, for ONNX Runtime, OpenVINO and
// TensorRT. The graph takes `images` [batch, in_chans, img_size, img_size] (normalized, batch dynamic)
// and gives `logits` [batch, num_classes]. Every matrix product (the patch embedding too, as a product
// over unfolded patches) is a MatMul on a weight stored transposed, [in, out], in one of three forms:
//   float    every weight in float32; a quantized layer's as codes · scale, so the graph computes what
//            the fake-quantized model (and a packed model in exact mode) computes
//   qdq      a quantized layer's codes as an INT8 initializer "<layer>.codes_t" and DequantizeLinear with
//            per-column scales "<layer>.scale" (axis 1) before the MatMul: weight-only QDQ, which
//            OpenVINO and TensorRT read as integer weights
//   dynamic  ONNX Runtime's integer path: DynamicQuantizeLinear on the activations (uint8, one scale
//            per tensor), MatMulInteger on the INT8 codes, Cast, and the product of the two scales;
//            ONNX Runtime fuses this pattern (quantize_dynamic's own) into its DynamicQuantizeMatMul
//            kernel, and standard opset-17 operators keep the file valid for every runtime
// Full-precision layers of a quantized model stay float in every form. The metadata_props carry the
// packed file's records: family, config, quant, class_names and preprocess (when known), and onnx_form.
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "models/registry.h"
#include "tervit/core/name_table.h"
#include "tervit/quant/quant_spec.h"

namespace tervit::deploy {

enum class OnnxForm { kFloat, kQdq, kDynamic };

// "float", "qdq" and "dynamic".
const NameTable<OnnxForm>& onnx_form_names();

struct OnnxExportOptions {
  OnnxForm form = OnnxForm::kFloat;
  quant::QuantSpec quant;                // recorded in the metadata, as the packed file does
  std::vector<std::string> class_names;  // stored when not empty
  nlohmann::json preprocess;             // crop_pct, interpolation, mean, std; stored when not null
};

struct OnnxExport {
  std::string bytes;                         // the serialized model
  std::map<std::string, int64_t> operators;  // nodes per operator type
  int64_t integer_weights = 0;               // values in INT8 initializers (the quantized layers' codes)
};

// The model, checked by onnx's checker and its strict shape inference. A model the forms cannot express
// (activation quantizers; qdq or dynamic without a quantized layer) is a tervit::Error naming the reason.
OnnxExport export_onnx(models::VisionModelImpl& model, const models::ModelArchitecture& architecture,
                        const OnnxExportOptions& options);

}  // namespace tervit::deploy
