// digits.hpp — what the digit classifiers share: the input (64 pixel values, 0..16, of an 8x8
// image, as in the handwritten-digits set these models were trained on) and the answer.
#pragma once

#include <cserve/cserve.hpp>

#include <string>
#include <vector>

namespace digits {

inline constexpr int kPixels = 64;
inline constexpr int kClasses = 10;

using Features = std::vector<float>;       // kPixels values
using Probabilities = std::vector<float>;  // kClasses values

// The features in a JSON body: an array of 64 numbers, each 0..16. Throws HttpError(400) naming
// what is wrong.
Features features_of_json(const cserve::Json& body);

int label_of(const Probabilities& p);

// {"label": k, "probabilities": [...]}
cserve::Json answer(const Probabilities& p);

// Classifiers take a batch and answer one row of probabilities per input. A load that fails
// throws std::runtime_error with the framework's message, prefixed with the file's path.
std::runtime_error load_error(const std::string& path, const std::string& why);

}  // namespace digits
