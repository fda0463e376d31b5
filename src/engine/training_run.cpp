#include "src/engine/training_run.h"

#include <cmath>

#include "tervit/engine/stop_signal.h"
#include "tervit/quant/quantizer_state.h"

namespace tervit::engine {

int agreed_stop_signal(ProcessGroup* group) {
  const int signal = stop_requested();
  if (group == nullptr) return signal;
  auto received = torch::tensor({signal != 0 ? 1.0 : 0.0, static_cast<double>(signal)}, torch::kFloat64).to(group->device());
  group->all_reduce_sum(received).wait();
  received = received.cpu();
  const double ranks = received[0].item<double>();
  return ranks == 0 ? 0 : static_cast<int>(std::lround(received[1].item<double>() / ranks));
}

std::vector<torch::Tensor> state_tensors(torch::nn::Module& model) {
  auto tensors = model.parameters();
  for (const auto& buffer : model.buffers()) tensors.push_back(buffer);
  for (const auto& quantizer : quant::quantizer_parameters(model)) tensors.push_back(quantizer);
  return tensors;
}

double round_to_tenths(double value) { return std::round(value * 10.0) / 10.0; }

std::string epoch_label(const TrainingRun& run, const StageConfig& stage) {
  return stage.name + " " + std::to_string(run.position.epoch + 1) + "/" + std::to_string(stage.epochs);
}

}  // namespace tervit::engine
