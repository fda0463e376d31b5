#include "tervit/libtorch/state_dict.h"

#include <utility>

#include "tervit/core/error.h"

namespace tervit {
namespace {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::vector<std::string> dims;
  for (int64_t d : shape) dims.push_back(std::to_string(d));
  return "[" + join(dims, ", ") + "]";
}

bool under_any_prefix(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const std::string& prefix : prefixes) {
    if (name.compare(0, prefix.size(), prefix) == 0) return true;
  }
  return false;
}

}  // namespace

TensorMap module_state_dict(const torch::nn::Module& module) {
  TensorMap result;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) result.emplace(item.key(), item.value().detach());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) result.emplace(item.key(), item.value().detach());
  return result;
}

bool LoadReport::clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }

std::string LoadReport::summary() const {
  std::vector<std::string> parts;
  const auto add = [&parts](const std::string& label, const std::vector<std::string>& names) {
    if (!names.empty()) parts.push_back(label + " (" + std::to_string(names.size()) + "): " + join(names, ", "));
  };
  add("missing", missing);
  add("unexpected", unexpected);
  std::vector<std::string> mismatch_lines;
  for (const ShapeMismatch& m : mismatched) {
    mismatch_lines.push_back(m.name + ": model " + format_shape(m.expected) + " vs file " + format_shape(m.got));
  }
  add("mismatched", mismatch_lines);
  add("dropped", dropped);
  return parts.empty() ? "all tensors matched" : join(parts, "; ");
}

LoadReport load_state_dict(torch::nn::Module& module, const TensorMap& tensors, const LoadOptions& options,
                           const std::string& source) {
  // The detached tensors share storage with the module, so copying into them sets its values.
  const TensorMap targets = module_state_dict(module);
  LoadReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (module tensor, value)
  for (const auto& [name, target] : targets) {
    const auto found = tensors.find(name);
    if (found == tensors.end()) {
      report.missing.push_back(name);
      continue;
    }
    const torch::Tensor& value = found->second;
    if (!value.defined()) throw Error(source + ": tensor '" + name + "' is undefined");
    if (value.sizes() == target.sizes()) {
      copies.emplace_back(target, value);
    } else if (under_any_prefix(name, options.droppable_prefixes)) {
      report.dropped.push_back(name);
    } else {
      report.mismatched.push_back({name, target.sizes().vec(), value.sizes().vec()});
    }
  }
  for (const auto& item : tensors) {
    if (targets.count(item.first) == 0) report.unexpected.push_back(item.first);
  }

  if (options.strict && !report.clean()) {
    std::string message = source + ": cannot load strictly";
    if (!report.mismatched.empty()) {
      const ShapeMismatch& first = report.mismatched.front();
      message += ": '" + first.name + "' has shape " + format_shape(first.expected) + " in the model but " +
                 format_shape(first.got) + " in the file";
    }
    throw Error(message + "; " + report.summary());
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : copies) target.copy_(value);  // converts dtype and device
  return report;
}

}  // namespace tervit
