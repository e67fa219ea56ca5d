#pragma once
// The 8042 keyboard controller as PCs and Linux's i8042 driver (drivers/input/serio/i8042.h) see it, and the
// PS/2 keyboard and mouse command sets its ports reach.
#include "emu/common/types.h"

namespace emu::devices::i8042 {

inline constexpr u16 kDataPort = 0x60;
inline constexpr u16 kCommandPort = 0x64;  // write: controller command; read: status
inline constexpr u8 kKeyboardIrq = 1;
inline constexpr u8 kAuxIrq = 12;

// Status register.
inline constexpr u8 kStatusObf = 0x01;      // output buffer full
inline constexpr u8 kStatusIbf = 0x02;      // input buffer full (never: commands complete at once)
inline constexpr u8 kStatusSys = 0x04;      // system flag, set by a passed self-test
inline constexpr u8 kStatusCmd = 0x08;      // last write was to the command port
inline constexpr u8 kStatusUnlocked = 0x10; // keyboard not inhibited by the key lock
inline constexpr u8 kStatusAuxObf = 0x20;   // the output buffer holds aux (mouse) data

// Controller command byte ("CTR").
inline constexpr u8 kCtrKbdInt = 0x01;
inline constexpr u8 kCtrAuxInt = 0x02;
inline constexpr u8 kCtrSys = 0x04;
inline constexpr u8 kCtrKbdDisable = 0x10;
inline constexpr u8 kCtrAuxDisable = 0x20;
inline constexpr u8 kCtrXlate = 0x40;

// Controller commands (port 0x64).
inline constexpr u8 kCmdReadCtr = 0x20;
inline constexpr u8 kCmdWriteCtr = 0x60;
inline constexpr u8 kCmdAuxDisable = 0xA7;
inline constexpr u8 kCmdAuxEnable = 0xA8;
inline constexpr u8 kCmdAuxTest = 0xA9;
inline constexpr u8 kCmdSelfTest = 0xAA;
inline constexpr u8 kCmdKbdTest = 0xAB;
inline constexpr u8 kCmdKbdDisable = 0xAD;
inline constexpr u8 kCmdKbdEnable = 0xAE;
inline constexpr u8 kCmdReadInput = 0xC0;
inline constexpr u8 kCmdReadOutput = 0xD0;
inline constexpr u8 kCmdWriteOutput = 0xD1;
inline constexpr u8 kCmdWriteKbdOutBuf = 0xD2;
inline constexpr u8 kCmdWriteAuxOutBuf = 0xD3;
inline constexpr u8 kCmdWriteAux = 0xD4;
inline constexpr u8 kCmdDisableA20 = 0xDD;
inline constexpr u8 kCmdEnableA20 = 0xDF;
inline constexpr u8 kCmdPulseFirst = 0xF0;  // 0xF0-0xFF: pulse the output-port lines whose bit is 0
inline constexpr u8 kCmdPulseReset = 0xFE;

inline constexpr u8 kSelfTestOk = 0x55;
inline constexpr u8 kInterfaceTestOk = 0x00;

// Output port bits.
inline constexpr u8 kOutReset = 0x01;  // 0 = CPU held in reset
inline constexpr u8 kOutA20 = 0x02;
inline constexpr u8 kOutPowerOn = kOutReset | kOutA20 | 0x0C;  // IRQ1/IRQ12 output bits (QEMU's KBD_OUT_ONES)

// PS/2 device replies and commands.
inline constexpr u8 kAck = 0xFA;
inline constexpr u8 kResend = 0xFE;
inline constexpr u8 kBatOk = 0xAA;
inline constexpr u8 kEcho = 0xEE;
inline constexpr u8 kDevReset = 0xFF;
inline constexpr u8 kDevSetDefaults = 0xF6;
inline constexpr u8 kDevDisable = 0xF5;
inline constexpr u8 kDevEnable = 0xF4;
inline constexpr u8 kDevSetRate = 0xF3;   // keyboard typematic / mouse sample rate: takes an argument
inline constexpr u8 kDevGetId = 0xF2;
inline constexpr u8 kKbdScanSet = 0xF0;   // takes an argument
inline constexpr u8 kKbdSetLeds = 0xED;   // takes an argument
inline constexpr u8 kMouseSetResolution = 0xE8;  // takes an argument
inline constexpr u8 kMouseStatus = 0xE9;
inline constexpr u8 kMouseReadData = 0xEB;

}  // namespace emu::devices::i8042
