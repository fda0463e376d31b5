#include "tervit/runtime/model.h"

#include <omp.h>

#include <algorithm>
#include <utility>

#include "src/runtime/network_builders.h"
#include "tervit/core/error.h"
#include "tervit/core/thread_budget.h"
#include "tervit/kernels/packed_metadata.h"

namespace tervit::runtime {

std::vector<float> Model::forward(const float* images, int64_t batch) const {
  adapt_threads();
  const int64_t image_size = architecture.in_chans * architecture.img_size * architecture.img_size;
  std::vector<float> logits(static_cast<size_t>(batch * architecture.num_classes));
  for (int64_t b = 0; b < batch; ++b) network->forward(images + b * image_size, logits.data() + b * architecture.num_classes);
  return logits;
}

Model load_model(const std::filesystem::path& path, kernels::PackedMode mode, kernels::AttentionPrecision attention) {
  return load_model(WeightFile::read(path), mode, attention);
}

Model load_model(WeightFile file, kernels::PackedMode mode, kernels::AttentionPrecision attention) {
  Model model;
  model.mode = mode;
  model.attention = attention;
  const auto attention_kernel = kernels::attention_kernel(attention);
  model.bits = kernels::read_packed_bits(file.metadata(), file.source());
  model.architecture = read_architecture(file.metadata(), file.source());
  model.class_names = kernels::class_names_from_metadata(file.metadata(), model.architecture.num_classes, file.source());
  model.network = model.architecture.family == "deit" ? build_deit(model.architecture, file, model.bits, mode, attention_kernel)
                                                      : build_swin(model.architecture, file, model.bits, mode, attention_kernel);
  file.check_all_taken();
  model.packed_layers = file.packed_layers();
  return model;
}

void set_threads(int threads) {
  start_thread_budget(std::max(threads, 1), [](int count) { omp_set_num_threads(count); });
}

}  // namespace tervit::runtime
