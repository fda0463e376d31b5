#pragma once
#include "tervit/core/error.h"

namespace tervit::image {

// Data that is not a decodable image (empty, truncated, corrupt, unknown format). A tervit::Error, so that
// callers may tell bad data apart from other errors: the loader skips bad files but stops on a bug.
class ImageDecodeError : public Error {
 public:
  using Error::Error;
};

}  // namespace tervit::image
