#include "emu/ui/screendump.h"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace emu::ui {

namespace {

constexpr u32 kOffWidth = 640, kOffHeight = 480;

// libpng reports errors through longjmp; this wrapper keeps every C++ object outside the setjmp frame.
bool WriteRows(std::FILE* file, u32 width, u32 height, const std::vector<png_bytep>& rows) {
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    if (png == nullptr) return false;
    png_infop info = png_create_info_struct(png);
    if (info == nullptr || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : nullptr);
        return false;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, const_cast<png_bytepp>(rows.data()));
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    return true;
}

}  // namespace

std::optional<std::string> WritePng(const std::string& path, const devices::gpu::Frame& frame) {
    const bool off = frame.width == 0 || frame.height == 0;
    const u32 width = off ? kOffWidth : frame.width, height = off ? kOffHeight : frame.height;
    std::vector<u8> rgb(size_t{width} * height * 3, 0);
    if (!off) {
        for (size_t i = 0; i < frame.pixels.size(); ++i) {
            rgb[3 * i] = static_cast<u8>(frame.pixels[i] >> 16);
            rgb[3 * i + 1] = static_cast<u8>(frame.pixels[i] >> 8);
            rgb[3 * i + 2] = static_cast<u8>(frame.pixels[i]);
        }
    }
    std::vector<png_bytep> rows(height);
    for (u32 y = 0; y < height; ++y) rows[y] = rgb.data() + size_t{y} * width * 3;

    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) return "cannot create " + path + ": " + std::strerror(errno);
    const bool written = WriteRows(file, width, height, rows);
    const bool closed = std::fclose(file) == 0;
    if (written && closed) return std::nullopt;
    std::remove(path.c_str());
    return "cannot write the PNG " + path;
}

}  // namespace emu::ui
