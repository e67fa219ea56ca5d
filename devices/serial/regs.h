#pragma once
// National Semiconductor PC16550D UART register layout (PC16550D datasheet, table II) and PC port/IRQ wiring.
#include "emu/common/types.h"

namespace emu::devices::uart {

inline constexpr u16 kCom1Base = 0x3F8;  // IRQ4
inline constexpr u16 kCom2Base = 0x2F8;  // IRQ3
inline constexpr u16 kCom3Base = 0x3E8;  // IRQ4
inline constexpr u16 kCom4Base = 0x2E8;  // IRQ3
inline constexpr unsigned kCom1Irq = 4;
inline constexpr unsigned kCom2Irq = 3;
inline constexpr u64 kPorts = 8;
inline constexpr unsigned kFifoSize = 16;
inline constexpr u64 kInputClockHz = 1'843'200;  // divisor 1 = 115200 baud (clock / 16)

enum Reg : u8 {
    kRbrThr = 0,  // DLAB=1: divisor latch LSB
    kIer = 1,     // DLAB=1: divisor latch MSB
    kIirFcr = 2,
    kLcr = 3,
    kMcr = 4,
    kLsr = 5,
    kMsr = 6,
    kScr = 7,
};

inline constexpr u8 kIerRda = 0x01;   // received data available (and character timeout)
inline constexpr u8 kIerThre = 0x02;  // transmitter holding register empty
inline constexpr u8 kIerRls = 0x04;   // receiver line status
inline constexpr u8 kIerMsi = 0x08;   // modem status
inline constexpr u8 kIerMask = 0x0F;

// IIR: bit 0 = no interrupt pending; bits 3-1 = the highest-priority source; bits 7-6 = FIFOs enabled.
inline constexpr u8 kIirNone = 0x01;
inline constexpr u8 kIirMsi = 0x00;
inline constexpr u8 kIirThre = 0x02;
inline constexpr u8 kIirRda = 0x04;
inline constexpr u8 kIirRls = 0x06;
inline constexpr u8 kIirTimeout = 0x0C;
inline constexpr u8 kIirFifoEnabled = 0xC0;

inline constexpr u8 kFcrEnable = 0x01;
inline constexpr u8 kFcrClearRx = 0x02;
inline constexpr u8 kFcrClearTx = 0x04;
inline constexpr u8 kFcrTriggerShift = 6;
inline constexpr unsigned kRxTrigger[4] = {1, 4, 8, 14};

inline constexpr u8 kLcrDlab = 0x80;
inline constexpr u8 kLcrParity = 0x08;
inline constexpr u8 kLcrTwoStop = 0x04;
inline constexpr u8 kLcrWordLength = 0x03;  // 5 + value data bits

inline constexpr u8 kMcrDtr = 0x01;
inline constexpr u8 kMcrRts = 0x02;
inline constexpr u8 kMcrOut1 = 0x04;
inline constexpr u8 kMcrOut2 = 0x08;
inline constexpr u8 kMcrLoop = 0x10;
inline constexpr u8 kMcrMask = 0x1F;

inline constexpr u8 kLsrDr = 0x01;
inline constexpr u8 kLsrOe = 0x02;
inline constexpr u8 kLsrPe = 0x04;
inline constexpr u8 kLsrFe = 0x08;
inline constexpr u8 kLsrBi = 0x10;
inline constexpr u8 kLsrThre = 0x20;
inline constexpr u8 kLsrTemt = 0x40;
inline constexpr u8 kLsrFifoError = 0x80;
inline constexpr u8 kLsrErrors = kLsrOe | kLsrPe | kLsrFe | kLsrBi;

inline constexpr u8 kMsrDcts = 0x01;
inline constexpr u8 kMsrDdsr = 0x02;
inline constexpr u8 kMsrTeri = 0x04;
inline constexpr u8 kMsrDdcd = 0x08;
inline constexpr u8 kMsrDeltas = 0x0F;
inline constexpr u8 kMsrCts = 0x10;
inline constexpr u8 kMsrDsr = 0x20;
inline constexpr u8 kMsrRi = 0x40;
inline constexpr u8 kMsrDcd = 0x80;

}  // namespace emu::devices::uart
