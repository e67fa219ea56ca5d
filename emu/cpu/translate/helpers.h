#pragma once
// Helpers the translator calls through CallHelper for instructions too involved for straight-line IR.
// Each is defined in the file of its instruction class. Argument conventions are given beside each.
#include "emu/cpu/ir/helper.h"

namespace emu::cpu::translate {

extern const ir::HelperInfo kPopfHelper;         // (value, size): RFLAGS <- value under POPF's privilege rules
extern const ir::HelperInfo kCliHelper;          // (): IF <- 0 or #GP
extern const ir::HelperInfo kStiHelper;          // (): IF <- 1 (with the one-instruction shadow) or #GP
extern const ir::HelperInfo kDivHelper;          // (divisor, size, is_signed): rDX:rAX / divisor or #DE
extern const ir::HelperInfo kRotateCarryHelper;  // (value, count, size | left << 8) -> result of RCL/RCR
extern const ir::HelperInfo kRotateCarryFlagsHelper;  // same arguments: writes CF and OF
extern const ir::HelperInfo kDoubleShift16Helper;  // (dst | src << 16, masked count, left) -> 16-bit SHLD/SHRD result
extern const ir::HelperInfo kDoubleShift16FlagsHelper;  // same arguments: writes the status flags
extern const ir::HelperInfo kStringHelper;       // (StringOp packed, 0, 0) -> 1 when the instruction completed
extern const ir::HelperInfo kBcdHelper;          // (kind, imm8): AAA..DAS on AX and the flags, or #DE
extern const ir::HelperInfo kSoftIntHelper;      // (vector, next_rip, kind): INT n / INT3 / INTO / INT1
extern const ir::HelperInfo kCpuidHelper;        // (): EAX..EDX <- CPUID(EAX, ECX)
extern const ir::HelperInfo kRdtscHelper;        // (with_aux): EDX:EAX <- TSC (and ECX <- TSC_AUX) or #GP
extern const ir::HelperInfo kCrc32Helper;        // (crc, data, size) -> CRC-32C of `size` data bytes
extern const ir::HelperInfo kPortHelper;         // (port, size | 0x100 for OUT, value) -> IN's value, or #GP
// A locked read-modify-write's store of `size` bytes (1, 2, 4, 8): (linear, expected, desired); restarts the
// instruction if memory no longer holds `expected` (Translator::LoadForUpdate).
const ir::HelperInfo& CompareExchangeHelper(unsigned size);
extern const ir::HelperInfo kCompareExchange16Helper;  // (linear, old_lo, old_hi): LOCK CMPXCHG16B's store

// The I/O permission check of IN/OUT/INS/OUTS for `size` bytes at `port`.
bool IoAllowed(ir::HelperEnv& env, u16 port, unsigned size);

// Packing of kStringHelper's first argument.
struct StringOpArgs {
    u8 kind = 0;       // StringKind
    u8 size = 1;       // element size in bytes
    u8 addr_size = 8;  // address size in bytes (2, 4, 8)
    u8 rep = 0;        // 0 none, 1 REP/REPE, 2 REPNE
    u8 seg = 3;        // source segment (DS unless overridden)
    bool flat = true;  // 64-bit mode segmentation

    u64 Pack() const;
    static StringOpArgs Unpack(u64 v);
};
enum class StringKind : u8 { Movs, Cmps, Stos, Lods, Scas, Ins, Outs };

}  // namespace emu::cpu::translate
