#include "emu/ui/scancodes.h"

#include <array>

namespace emu::ui {

namespace {

constexpr u16 kExtended = 0x100;  // sent behind an E0 prefix byte

// Set-1 make codes by HID usage ID (0: no key). Scan code tables: IBM PC AT Technical Reference, keyboard section.
constexpr std::array<u16, 232> kSet1 = [] {
    std::array<u16, 232> t{};
    constexpr u8 letters[26] = {0x1E, 0x30, 0x2E, 0x20, 0x12, 0x21, 0x22, 0x23, 0x17, 0x24, 0x25, 0x26, 0x32,
                                0x31, 0x18, 0x19, 0x10, 0x13, 0x1F, 0x14, 0x16, 0x2F, 0x11, 0x2D, 0x15, 0x2C};
    for (unsigned i = 0; i < 26; ++i) t[0x04 + i] = letters[i];  // a-z
    for (unsigned i = 0; i < 10; ++i) t[0x1E + i] = static_cast<u16>(0x02 + i);  // 1-9, 0
    constexpr u16 row[] = {0x1C, 0x01, 0x0E, 0x0F, 0x39, 0x0C, 0x0D, 0x1A, 0x1B, 0x2B, 0x2B, 0x27, 0x28, 0x29,
                           0x33, 0x34, 0x35, 0x3A};  // Enter .. Caps Lock (0x28-0x39)
    for (unsigned i = 0; i < sizeof row / sizeof row[0]; ++i) t[0x28 + i] = row[i];
    for (unsigned i = 0; i < 10; ++i) t[0x3A + i] = static_cast<u16>(0x3B + i);  // F1-F10
    t[0x44] = 0x57;  // F11
    t[0x45] = 0x58;  // F12
    t[0x47] = 0x46;  // Scroll Lock
    constexpr u16 nav[] = {0x52, 0x47, 0x49, 0x53, 0x4F, 0x51, 0x4D, 0x4B, 0x50, 0x48};  // Insert .. Up (0x49-0x52)
    for (unsigned i = 0; i < 10; ++i) t[0x49 + i] = kExtended | nav[i];
    t[0x53] = 0x45;              // Num Lock
    t[0x54] = kExtended | 0x35;  // keypad /
    t[0x55] = 0x37;              // keypad *
    t[0x56] = 0x4A;              // keypad -
    t[0x57] = 0x4E;              // keypad +
    t[0x58] = kExtended | 0x1C;  // keypad Enter
    constexpr u16 keypad[] = {0x4F, 0x50, 0x51, 0x4B, 0x4C, 0x4D, 0x47, 0x48, 0x49, 0x52, 0x53};  // 1-9, 0, .
    for (unsigned i = 0; i < 11; ++i) t[0x59 + i] = keypad[i];
    t[0x64] = 0x56;  // the key between left Shift and Z on ISO keyboards
    constexpr u16 modifiers[] = {0x1D, 0x2A, 0x38, kExtended | 0x5B, kExtended | 0x1D, 0x36, kExtended | 0x38,
                                 kExtended | 0x5C};  // left Ctrl, Shift, Alt, GUI, right Ctrl, Shift, Alt, GUI
    for (unsigned i = 0; i < 8; ++i) t[0xE0 + i] = modifiers[i];
    return t;
}();

}  // namespace

std::vector<u8> Set1Scancode(unsigned hid_usage, bool pressed) {
    if (hid_usage >= kSet1.size() || kSet1[hid_usage] == 0) return {};
    const u16 code = kSet1[hid_usage];
    std::vector<u8> bytes;
    if (code & kExtended) bytes.push_back(0xE0);
    bytes.push_back(static_cast<u8>((code & 0x7F) | (pressed ? 0 : 0x80)));  // a release sets bit 7
    return bytes;
}

}  // namespace emu::ui
