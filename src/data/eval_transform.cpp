#include "tervit/data/eval_transform.h"

#include "tervit/data/normalize.h"

namespace tervit::data {

torch::Tensor eval_transform(const cv::Mat& rgb8, const image::EvalTransformOptions& options) {
  return to_normalized_chw(image::eval_resize_crop(rgb8, options), image::Normalization{options.mean, options.std});
}

}  // namespace tervit::data
