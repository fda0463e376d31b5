#include "src/deploy/onnx_graph.h"

#include <sstream>

namespace tervit::deploy {

namespace {

onnx::TensorProto_DataType onnx_dtype(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return onnx::TensorProto_DataType_FLOAT;
    case torch::kInt8: return onnx::TensorProto_DataType_INT8;
    case torch::kInt64: return onnx::TensorProto_DataType_INT64;
    default: throw std::logic_error(std::string("onnx graph: no initializer of dtype ") + c10::toString(type));
  }
}

void set_attribute(onnx::AttributeProto& attribute, const OnnxAttributeValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    attribute.set_type(onnx::AttributeProto_AttributeType_INT);
    attribute.set_i(*i);
  } else if (const auto* f = std::get_if<float>(&value)) {
    attribute.set_type(onnx::AttributeProto_AttributeType_FLOAT);
    attribute.set_f(*f);
  } else {
    attribute.set_type(onnx::AttributeProto_AttributeType_INTS);
    for (const int64_t v : std::get<std::vector<int64_t>>(value)) attribute.add_ints(v);
  }
}

}  // namespace

std::string OnnxGraph::fresh_name(const std::string& op) {
  return (scope_.empty() ? "" : scope_ + "/") + op + "_" + std::to_string(next_++);
}

std::string OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs, const OnnxAttributes& attributes) {
  return node(op, inputs, 1, attributes).front();
}

std::vector<std::string> OnnxGraph::node(const std::string& op, const std::vector<std::string>& inputs, int outputs,
                                         const OnnxAttributes& attributes) {
  auto* node = graph_.add_node();
  const auto name = fresh_name(op);
  node->set_op_type(op);
  node->set_name(name);
  for (const auto& input : inputs) node->add_input(input);
  std::vector<std::string> names;
  for (int i = 0; i < outputs; ++i) names.push_back(outputs == 1 ? name : name + ":" + std::to_string(i));
  for (const auto& output : names) node->add_output(output);
  for (const auto& [key, value] : attributes) {
    auto* attribute = node->add_attribute();
    attribute->set_name(key);
    set_attribute(*attribute, value);
  }
  return names;
}

void OnnxGraph::name_output(const std::string& x, const std::string& name) {
  auto* node = graph_.add_node();
  node->set_op_type("Identity");
  node->set_name(fresh_name("Identity"));
  node->add_input(x);
  node->add_output(name);
}

const std::string& OnnxGraph::initializer(const std::string& name, const torch::Tensor& tensor) {
  const auto [it, added] = initializers_.insert(name);
  if (!added) return *it;
  const auto values = tensor.detach().to(torch::kCPU).contiguous();
  auto* proto = graph_.add_initializer();
  proto->set_name(name);
  proto->set_data_type(onnx_dtype(values.scalar_type()));
  for (const int64_t d : values.sizes()) proto->add_dims(d);
  // raw_data is little-endian, as this machine's memory.
  proto->set_raw_data(values.data_ptr(), values.numel() * values.element_size());
  return *it;
}

std::string OnnxGraph::int64s(const std::vector<int64_t>& values) {
  std::ostringstream name;
  name << "const_i64";
  for (const int64_t v : values) name << "_" << v;
  return initializer(name.str(), torch::tensor(values, torch::kInt64));
}

std::string OnnxGraph::int64_scalar(int64_t value) {
  return initializer("const_i64_scalar_" + std::to_string(value), torch::tensor(value, torch::kInt64));
}

std::string OnnxGraph::float_scalar(float value) {
  std::ostringstream name;
  name.precision(9);
  name << "const_f32_" << value;
  return initializer(name.str(), torch::tensor(value, torch::kFloat32));
}

}  // namespace tervit::deploy
