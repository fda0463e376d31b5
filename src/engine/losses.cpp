#include "tervit/engine/losses.h"

#include "tervit/core/error.h"

namespace tervit::engine {

namespace F = torch::nn::functional;

torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  return (-targets * torch::log_softmax(logits, -1)).sum(-1).mean();
}

torch::Tensor smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double smoothing) {
  return F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(smoothing));
}

torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                DistillType type, double tau) {
  switch (type) {
    case DistillType::kSoft: {
      // KL with both sides as log-probabilities, as DeiT computes it (log_target=True).
      const auto student = torch::log_softmax(student_logits / tau, -1);
      const auto teacher = torch::log_softmax(teacher_logits / tau, -1);
      return (teacher.exp() * (teacher - student)).sum() * (tau * tau) / static_cast<double>(student_logits.numel());
    }
    case DistillType::kHard:
      return F::cross_entropy(student_logits, teacher_logits.argmax(-1));
    case DistillType::kNone:
      break;
  }
  throw Error("distillation_loss: no distillation type given");
}

}  // namespace tervit::engine
