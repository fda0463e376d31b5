// libFuzzer target: the packed ternary model reader (tervit-eval --packed). A file it accepts is run
// once on a blank image, so that packed weights the reader let through are also read by the kernels.
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <variant>

#include "models/model_metadata.h"
#include "models/pretrained.h"
#include "tervit/core/error.h"
#include "tervit/libtorch/safetensors.h"
#include "tervit/deploy/packed_model.h"

namespace {

// Files describing big models are skipped before the model is built: their bytes take the same paths
// as a small model's, and building them would only exhaust the fuzzer's memory and time.
constexpr int64_t kMaxFuzzWeights = int64_t{1} << 22;

int64_t rough_weight_count(const tervit::models::ModelArchitecture& architecture) {
  return std::visit(
      [](const auto& o) {
        int64_t width = o.embed_dim(), layers = 0;
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, tervit::models::DeiTOptions>) {
          layers = o.depth();
        } else {
          for (const int64_t depth : o.depths()) layers += depth, width *= 2;
        }
        const double patches = static_cast<double>(o.img_size()) * o.img_size();
        const double count = (4.0 + 2.0 * o.mlp_ratio()) * width * width * layers + static_cast<double>(o.num_classes()) * width + patches * width;
        return count > 1e18 ? INT64_MAX : static_cast<int64_t>(count);
      },
      architecture);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto file = tervit::parse_safetensors(data, size, "input");
    const auto architecture = tervit::models::architecture_from_metadata(file.metadata);
    if (architecture && rough_weight_count(*architecture) > kMaxFuzzWeights) return 0;
    auto packed = tervit::deploy::load_packed_model(file, "input", tervit::kernels::PackedMode::kExact);
    torch::NoGradGuard no_grad;
    const int64_t side = packed.model->img_size();
    packed.model->forward(torch::zeros({1, packed.model->in_chans(), side, side}));
  } catch (const tervit::Error&) {
  }
  return 0;
}
