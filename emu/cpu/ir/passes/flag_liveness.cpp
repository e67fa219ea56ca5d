// Flag liveness: walking backwards, tracks which status flags a later instruction may still observe. All
// are live at the block's end (the next block may read them) and at anything that may raise an exception
// (the handler sees RFLAGS) and at a stop point (StopPoints), so flag writes are only dropped when a later write in the same block overwrites
// them first. A conditional writer (shift by a variable count that may be 0) does not kill liveness.
// Leaves the operands of removed writes for dead code elimination.
#include "emu/cpu/ir/flags.h"
#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {
namespace {

// Flags a SetFlags instruction overwrites for certain.
u64 FlagsKilled(const Inst& inst) {
    const auto kind = static_cast<FlagOp>(inst.args[0].imm());
    const u64 written = FlagsWrittenBy(kind);
    if (!WritesConditionally(kind)) return written;
    const Value& count = inst.args[2];
    return count.is_imm() && count.imm() != 0 ? written : 0;
}

}  // namespace

std::vector<u64> LiveFlagsAfter(const Block& block) {
    std::vector<u64> after(block.size());
    u64 live = rflags::Arith;
    const std::vector<bool> stops = StopPoints(block);
    for (u32 i = block.size(); i-- > 0;) {
        after[i] = live;
        const Inst& inst = block.inst(i);
        if (MayRaise(inst.op) || IsTerminator(inst.op) || stops[i]) {
            live = rflags::Arith;
            continue;
        }
        switch (inst.op) {
            case Opcode::SetFlags: live &= ~FlagsKilled(inst); break;
            case Opcode::SetFlag: live &= ~(u64{1} << inst.args[0].imm()); break;
            case Opcode::GetFlag: live |= (u64{1} << inst.args[0].imm()) & rflags::Arith; break;
            case Opcode::GetCond: live |= FlagsReadByCond(static_cast<unsigned>(inst.args[0].imm())); break;
            case Opcode::GetRflags: live = rflags::Arith; break;
            case Opcode::SetRflags: live = 0; break;
            default: break;
        }
    }
    return after;
}

// A write none of whose flags is live after it goes (a dead write kills nothing that is not dead already, so
// removing it leaves the analysis unchanged).
void FlagLivenessPass(Block& block) {
    const std::vector<u64> after = LiveFlagsAfter(block);
    for (u32 i = 0; i < block.size(); ++i) {
        Inst& inst = block.inst(i);
        if (inst.op == Opcode::SetFlags) {
            const auto kind = static_cast<FlagOp>(inst.args[0].imm());
            if ((FlagsWrittenBy(kind) & after[i]) == 0) inst = Inst{};
        } else if (inst.op == Opcode::SetFlag) {
            const u64 bit = u64{1} << inst.args[0].imm();
            if ((bit & rflags::Arith) && !(bit & after[i])) inst = Inst{};
        }
    }
}

}  // namespace emu::cpu::ir
