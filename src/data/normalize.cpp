#include "tervit/data/normalize.h"

namespace tervit::data {

torch::Tensor to_normalized_chw(const cv::Mat& rgb8, const image::Normalization& normalization, bool mirror) {
  torch::Tensor chw = torch::empty({3, rgb8.rows, rgb8.cols}, torch::kFloat);
  image::normalize_planes(rgb8, normalization, mirror, chw.data_ptr<float>());
  return chw;
}

}  // namespace tervit::data
