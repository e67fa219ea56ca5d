// Port I/O: IN OUT (INS/OUTS are string instructions, string.cpp), and the I/O permission check they
// share (SDM Vol. 1 19.5: CPL <= IOPL, else the TSS I/O bitmap; V86 mode always uses the bitmap).
#include "emu/cpu/translate/helpers.h"
#include "emu/cpu/translate/translator.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {

using ir::Type;
using ir::Value;

namespace {
constexpr u64 kOut = 0x100;
}

bool Translator::IN(const DecodedInsn& insn) {
    const Operand& dst = insn.operands[0];
    const Value port = ir_.Resize(Read(insn.operands[1]), Type::U16);
    const Value v = ir_.CallHelper(kPortHelper, port, ir::Emitter::Imm64(dst.size));
    Write(dst, ir_.Truncate(v, TypeOf(dst)));
    return true;
}

bool Translator::OUT(const DecodedInsn& insn) {
    const Operand& src = insn.operands[1];
    const Value port = ir_.Resize(Read(insn.operands[0]), Type::U16);
    ir_.CallHelper(kPortHelper, port, ir::Emitter::Imm64(src.size | kOut), Read(src));
    return true;
}

bool IoAllowed(ir::HelperEnv& env, u16 port, unsigned size) {
    const CpuState& s = env.state;
    const CpuMode mode = s.mode();
    if (mode == CpuMode::Real) return true;
    if (mode != CpuMode::Virtual8086 && s.cpl() <= ((s.rflags & rflags::IOPL) >> 12)) return true;
    // The bitmap starts at the offset stored at TSS+0x66; every bit of the accessed ports must be clear.
    u16 base = 0;
    u16 bits = 0;
    MemFault fault;
    if (s.tr.limit < 0x67) return false;
    if (!env.memory.Read(s, s.tr.base + 0x66, &base, 2, MemAccess::Read, false, &fault)) return false;
    const u32 byte = base + port / 8u;
    if (byte + 1 > s.tr.limit) return false;
    if (!env.memory.Read(s, s.tr.base + byte, &bits, 2, MemAccess::Read, false, &fault)) return false;
    return ((bits >> (port % 8)) & ((1u << size) - 1)) == 0;
}

namespace {

u64 Port(ir::HelperEnv& env, u64 port, u64 how, u64 value) {
    const unsigned size = static_cast<unsigned>(how & 0xFF);
    if (!IoAllowed(env, static_cast<u16>(port), size)) return env.Raise(vec::GP, 0);
    if (how & kOut) {
        env.memory.PortOut(static_cast<u16>(port), size, static_cast<u32>(value));
        return 0;
    }
    return env.memory.PortIn(static_cast<u16>(port), size);
}

}  // namespace

const ir::HelperInfo kPortHelper{"Port", &Port};

}  // namespace emu::cpu::translate
