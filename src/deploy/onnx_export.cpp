#include "tervit/deploy/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <variant>

#include "models/model_metadata.h"
#include "src/deploy/onnx_families.h"
#include "tervit/core/error.h"
#include "tervit/quant/quant_layers.h"

namespace tervit::deploy {

namespace {

constexpr int64_t kOpset = 17;     // LayerNormalization's first opset
constexpr int64_t kIrVersion = 8;  // what opset 17 ships with (onnx 1.12)

void add_tensor_value(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& values, const std::string& name,
                      const std::vector<int64_t>& dims) {
  auto* value = values.Add();
  value->set_name(name);
  auto* tensor = value->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  auto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  for (const int64_t d : dims) shape->add_dim()->set_dim_value(d);
}

void add_metadata(onnx::ModelProto& model, const std::string& key, const std::string& value) {
  auto* entry = model.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

// What the forms cannot express, named before any graph is built.
void check_expressible(models::VisionModelImpl& model, const ModelTensors& tensors, OnnxForm form) {
  for (const auto& [name, layer] : quant::quantizable_layers(model))
    if (layer->input_quantizer())
      throw Error("onnx export: layer '" + name + "' quantizes its input activations (" + layer->input_quantizer()->name() +
                  "), which the exported graphs do not: export a model trained without --activation-quant");
  if (form != OnnxForm::kFloat && tensors.quantized_layers() == 0)
    throw Error("onnx export: the " + onnx_form_names().name(form) +
                " form stores quantized layers as integers, but this model has none (full precision): use the float form");
}

// onnx's checker, then its shape inference in strict mode (which the checker alone does not run in
// onnx 1.12): a graph either runtime would reject is an error here, not at the user's.
void validate(onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throw std::logic_error(std::string("onnx export: the graph fails onnx's checks: ") + e.what());
  }
  model.mutable_graph()->clear_value_info();  // the inferred shapes: the runtimes infer their own
}

}  // namespace

const NameTable<OnnxForm>& onnx_form_names() {
  static const NameTable<OnnxForm> names{{"float", OnnxForm::kFloat}, {"qdq", OnnxForm::kQdq}, {"dynamic", OnnxForm::kDynamic}};
  return names;
}

OnnxExport export_onnx(models::VisionModelImpl& model, const models::ModelArchitecture& architecture,
                        const OnnxExportOptions& options) {
  const ModelTensors tensors(model);
  check_expressible(model, tensors, options.form);

  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("tervit");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  auto* graph_proto = proto.mutable_graph();
  graph_proto->set_name(models::family_name(architecture));
  add_tensor_value(*graph_proto->mutable_input(), "images", {model.in_chans(), model.img_size(), model.img_size()});

  OnnxGraph graph(*graph_proto);
  OnnxLayers layers(graph, tensors, options.form);
  const auto logits = std::visit(
      [&](const auto& o) {
        using Options = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<Options, models::DeiTOptions>) return deit_graph(layers, o, "images");
        else return swin_graph(layers, dynamic_cast<models::SwinImpl&>(model), "images");
      },
      architecture);
  graph.set_scope("");
  graph.name_output(logits, "logits");
  add_tensor_value(*graph_proto->mutable_output(), "logits", {model.num_classes()});

  for (const auto& [key, value] : models::architecture_metadata(architecture)) add_metadata(proto, key, value);
  add_metadata(proto, "quant", quant::quant_spec_json(options.quant));
  add_metadata(proto, "onnx_form", onnx_form_names().name(options.form));
  if (!options.class_names.empty()) add_metadata(proto, "class_names", nlohmann::json(options.class_names).dump());
  if (!options.preprocess.is_null()) add_metadata(proto, "preprocess", options.preprocess.dump());
  validate(proto);
  OnnxExport result;
  for (const auto& node : graph_proto->node()) ++result.operators[node.op_type()];
  for (const auto& layer : quant::quantizable_layers(model))
    if (tensors.matrix(layer.first).quantized() && options.form != OnnxForm::kFloat)
      result.integer_weights += tensors.matrix(layer.first).integer.codes.numel();
  if (!proto.SerializeToString(&result.bytes))
    throw Error("onnx export: the model does not fit one protobuf message (2 GB): export a smaller model");
  return result;
}

}  // namespace tervit::deploy
