#pragma once
// Writes a captured display picture as a PNG file (libpng): 8-bit RGB, no alpha, no interlace.
#include <optional>
#include <string>

#include "devices/gpu/bochs_display.h"

namespace emu::ui {

// A frame with no pixels (the display is off) is written as a black 640x480 picture, as a switched-off monitor shows.
// Returns a message on failure (the file cannot be created, libpng fails); a failed write leaves no file behind.
std::optional<std::string> WritePng(const std::string& path, const devices::gpu::Frame& frame);

}  // namespace emu::ui
