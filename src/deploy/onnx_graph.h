#pragma once
// An ONNX graph built node by node on onnx's protobuf classes (Debian's libonnx): weights go in as
// initializers under the names the caller gives (timm's), intermediate tensors are numbered within the
// current scope ("blocks.0.attn/MatMul_12"), so that a profiler's node names point at the model's layers.
// Private to deploy/: nothing outside the exporter sees onnx's types.
#include <onnx/onnx_pb.h>
#include <torch/torch.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace tervit::deploy {

using OnnxAttributeValue = std::variant<int64_t, float, std::vector<int64_t>>;
using OnnxAttributes = std::vector<std::pair<std::string, OnnxAttributeValue>>;

class OnnxGraph {
 public:
  explicit OnnxGraph(onnx::GraphProto& graph) : graph_(graph) {}

  // Names of later nodes and their outputs start with `scope` (a layer's dotted name).
  void set_scope(std::string scope) { scope_ = std::move(scope); }

  // A node of the default domain with one output; returns the output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const OnnxAttributes& attributes = {});
  // The same with `outputs` outputs.
  std::vector<std::string> node(const std::string& op, const std::vector<std::string>& inputs, int outputs,
                                const OnnxAttributes& attributes);

  // An Identity node that gives `x` the name `name` (the graph's output).
  void name_output(const std::string& x, const std::string& name);

  // `tensor` (float32, int8 or int64, any shape; copied) as the initializer `name`. A name already
  // given keeps its first tensor: shared constants (a window's index tables) are added once.
  const std::string& initializer(const std::string& name, const torch::Tensor& tensor);
  // Constants named after their values, shared by every node that uses them.
  std::string int64s(const std::vector<int64_t>& values);  // a 1-D int64 tensor (shapes, axes)
  std::string int64_scalar(int64_t value);                 // a 0-D int64 tensor (Gather indices)
  std::string float_scalar(float value);                   // a 0-D float tensor

 private:
  std::string fresh_name(const std::string& op);

  onnx::GraphProto& graph_;
  std::set<std::string> initializers_;
  std::string scope_;
  int64_t next_ = 0;
};

}  // namespace tervit::deploy
