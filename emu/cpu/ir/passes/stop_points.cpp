// Where a block may stop early besides an exception: at the guest instruction after one that stores or calls a
// helper, when that store rewrote translated code (self-modifying code, exit_request.h). Passes that drop a write
// because a later one overwrites it must keep the write when such a stop point lies between them, as they do
// around instructions that may raise. Invariant relied on: GuestInsn starts each guest instruction's IR.
#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {

std::vector<bool> StopPoints(const Block& block) {
    std::vector<bool> stop(block.size(), false);
    bool stored = false;
    for (u32 i = 0; i < block.size(); ++i) {
        const Opcode op = block.inst(i).op;
        if (op == Opcode::GuestInsn) {
            stop[i] = stored;
            stored = false;
        } else if (op == Opcode::Store || op == Opcode::CallHelper) {
            stored = true;
        }
    }
    return stop;
}

}  // namespace emu::cpu::ir
