#include "image.hpp"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace digits {

bool looks_like_image(std::string_view bytes) {
  return bytes.starts_with("\x89PNG") || bytes.starts_with("P5") || bytes.starts_with("P2");
}

Features features_of_image(std::string_view bytes) {
  if (bytes.empty()) throw cserve::HttpError(400, "the image is empty");
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data()));
  cv::Mat grey;
  try {
    grey = cv::imdecode(raw, cv::IMREAD_GRAYSCALE);
  } catch (const cv::Exception& e) {
    throw cserve::HttpError(400, std::string("the image could not be decoded: ") + e.what());
  }
  if (grey.empty()) throw cserve::HttpError(400, "the image could not be decoded (PNG or PGM expected)");
  if (cv::mean(grey)[0] > 127) cv::bitwise_not(grey, grey);
  cv::Mat small;
  cv::resize(grey, small, cv::Size(8, 8), 0, 0, cv::INTER_AREA);
  Features x;
  x.reserve(kPixels);
  for (int r = 0; r < 8; ++r) {
    for (int c = 0; c < 8; ++c) x.push_back(static_cast<float>(small.at<unsigned char>(r, c)) * 16.0f / 255.0f);
  }
  return x;
}

}  // namespace digits
