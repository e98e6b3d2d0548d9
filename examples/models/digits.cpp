#include "digits.hpp"

#include <algorithm>
#include <cmath>

namespace digits {

Features features_of_json(const cserve::Json& body) {
  if (!body.is_array()) throw cserve::HttpError(400, "expected a JSON array of 64 numbers (or a PNG/PGM image)");
  if (body.size() != kPixels) {
    throw cserve::HttpError(400, "expected 64 numbers (an 8x8 image), got " + std::to_string(body.size()));
  }
  Features x;
  x.reserve(kPixels);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const cserve::Json& v = body[i];
    if (!v.is_number()) throw cserve::HttpError(400, "element " + std::to_string(i) + " is not a number: " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d > 16) {
      throw cserve::HttpError(400, "element " + std::to_string(i) + " is " + v.dump() + ": pixel values are 0..16");
    }
    x.push_back(static_cast<float>(d));
  }
  return x;
}

int label_of(const Probabilities& p) {
  return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
}

cserve::Json answer(const Probabilities& p) { return {{"label", label_of(p)}, {"probabilities", p}}; }

std::runtime_error load_error(const std::string& path, const std::string& why) {
  return std::runtime_error("cannot load model '" + path + "': " + why);
}

}  // namespace digits
