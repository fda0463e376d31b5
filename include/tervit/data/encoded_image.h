#pragma once
// An image file read into memory but not decoded yet. Its size comes from the header, so a transform that
// needs only part of the image (RandomResizedCrop keeps about half of it on average) decodes only that
// part: JPEGs in YCbCr, RGB or grayscale through libjpeg-turbo (jpeg_decode.h), with the pixels of a full
// decode. Other files (PNG, CMYK JPEG, ...) are decoded whole when read.
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

namespace tervit::data {

class EncodedImage {
 public:
  // Checks what can be checked without decoding pixels (see check_encoded_image, and the JPEG header) and
  // throws ImageDecodeError naming `name`; other formats are decoded here, so their errors show here too.
  EncodedImage(std::vector<uint8_t> bytes, std::string name);
  // Throws tervit::Error naming the path for a file that cannot be read.
  static EncodedImage read(const std::filesystem::path& path);

  const std::string& name() const { return name_; }
  cv::Size size() const { return size_; }

  // A new CV_8UC3 RGB image equal to decode_image's output, or to `region` of it. Throws ImageDecodeError
  // for data found corrupt only now, tervit::Error for a region outside the image.
  cv::Mat decode() const;
  cv::Mat decode(const cv::Rect& region) const;

  // Lets a transform written for decoded images (a callable taking const cv::Mat&) take an EncodedImage:
  // it then gets the whole image.
  operator cv::Mat() const { return decode(); }

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
  cv::Size size_;
  cv::Mat decoded_;  // formats that are not decoded on demand
};

}  // namespace tervit::data
