// image.hpp — a digit image (PNG or PGM bytes, any size) as the 64 features the models take:
// decoded to grey, inverted when it is a dark digit on a light background (the training images
// are light on dark), shrunk to 8x8 by area averaging and scaled from 0..255 to 0..16.
#pragma once

#include "digits.hpp"

#include <string_view>

namespace digits {

// True when the bytes start like a PNG or a binary/ASCII PGM.
bool looks_like_image(std::string_view bytes);
// Throws HttpError(400) when OpenCV cannot decode the bytes.
Features features_of_image(std::string_view bytes);

}  // namespace digits
