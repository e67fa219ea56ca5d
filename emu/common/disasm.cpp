#include "emu/common/disasm.h"

#include <capstone/capstone.h>

namespace emu {

namespace {

// One Capstone handle per mode and thread: opening one costs more than disassembling an instruction.
csh Handle(unsigned bits) {
    struct Handles {
        csh h[3] = {0, 0, 0};
        bool ok[3] = {false, false, false};
        ~Handles() {
            for (int i = 0; i < 3; ++i) {
                if (ok[i]) cs_close(&h[i]);
            }
        }
    };
    thread_local Handles handles;
    const int i = bits == 16 ? 0 : bits == 32 ? 1 : 2;
    if (!handles.ok[i]) {
        const cs_mode mode = i == 0 ? CS_MODE_16 : i == 1 ? CS_MODE_32 : CS_MODE_64;
        handles.ok[i] = cs_open(CS_ARCH_X86, mode, &handles.h[i]) == CS_ERR_OK;
    }
    return handles.ok[i] ? handles.h[i] : 0;
}

}  // namespace

std::string DisassembleOne(std::span<const u8> bytes, u64 address, unsigned bits, unsigned* length) {
    if (length) *length = 0;
    const csh handle = Handle(bits);
    cs_insn* insn = nullptr;
    if (!handle || cs_disasm(handle, bytes.data(), bytes.size(), address, 1, &insn) != 1) return "(bad)";
    std::string text = insn->mnemonic;
    if (insn->op_str[0]) text += std::string(" ") + insn->op_str;
    if (length) *length = insn->size;
    cs_free(insn, 1);
    return text;
}

}  // namespace emu
