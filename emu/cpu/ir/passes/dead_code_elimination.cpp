// Dead code elimination: an instruction without side effects (opcodes.h HasSideEffects) whose result has
// no uses can go. Relies on SSA order: uses come after definitions, so one backward sweep that releases the
// operands of each removed instruction finds whole dead chains.
#include "emu/cpu/ir/passes/passes.h"

namespace emu::cpu::ir {

void DeadCodeEliminationPass(Block& block) {
    std::vector<u32> uses = block.UseCounts();
    for (u32 i = block.size(); i-- > 0;) {
        Inst& inst = block.inst(i);
        if (inst.op == Opcode::Nop || HasSideEffects(inst.op) || uses[i] != 0) continue;
        for (unsigned a = 0; a < inst.num_args; ++a) {
            if (inst.args[a].is_inst()) --uses[inst.args[a].inst()];
        }
        inst = Inst{};
    }
    block.Compact();
}

}  // namespace emu::cpu::ir
