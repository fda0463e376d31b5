#pragma once
// The training losses of the DeiT/Swin recipes: cross-entropy with label smoothing, soft-target
// cross-entropy for Mixup/CutMix targets, and DeiT's distillation terms.
#include <torch/torch.h>

namespace tervit::engine {

enum class DistillType { kNone, kSoft, kHard };

// Mean over the batch of -sum(targets * log_softmax(logits)); targets [B, classes], rows summing to 1.
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

// Hard labels [B] with label smoothing (0 = plain cross-entropy).
torch::Tensor smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, double smoothing);

// DeiT's distillation term on the student's distillation logits against the teacher's logits:
// soft: KL(softmax(teacher/tau) || softmax(student/tau)) * tau^2, summed and divided by the logits' count;
// hard: cross-entropy against the teacher's argmax.
torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                DistillType type, double tau);

}  // namespace tervit::engine
