#include "emu/cpu/translate/translator.h"

#include <array>

#include "emu/common/log.h"
#include "emu/cpu/system/cpuid.h"
#include "emu/cpu/vcpu.h"

namespace emu::cpu::translate {
namespace {

using Handler = bool (Translator::*)(const DecodedInsn&);
constexpr unsigned kNumMnemonics = static_cast<unsigned>(Mnemonic::Count);

constexpr std::array<Handler, kNumMnemonics> MakeDispatch() {
    std::array<Handler, kNumMnemonics> table{};
#define HANDLER(name) table[static_cast<unsigned>(Mnemonic::name)] = &Translator::name;
#include "emu/cpu/translate/handlers.inc"
#undef HANDLER
    return table;
}

constexpr std::array<Handler, kNumMnemonics> kDispatch = MakeDispatch();

// General-purpose instructions of a CPUID extension (cpuid.cpp's names): decoded by the model's CPUID, so without the
// feature each is #UD, as the SDM's "#UD If CPUID...[bit] = 0" says (SIMD extensions: simd::RequiredFeature; LZCNT
// and TZCNT instead run as BSR/BSF, in bits.cpp).
struct ExtensionRow {
    Mnemonic mnemonic;
    const char* feature;
};
constexpr ExtensionRow kExtensions[] = {
    {Mnemonic::MOVBE, "movbe"}, {Mnemonic::POPCNT, "popcnt"},   {Mnemonic::ADCX, "adx"},
    {Mnemonic::ADOX, "adx"},    {Mnemonic::CMPXCHG16B, "cx16"}, {Mnemonic::RDTSCP, "rdtscp"},
    {Mnemonic::RDPID, "rdpid"}, {Mnemonic::CRC32, "sse4_2"},
};

const char* ExtensionOf(Mnemonic m) {
    for (const ExtensionRow& row : kExtensions) {
        if (row.mnemonic == m) return row.feature;
    }
    return nullptr;
}

}  // namespace

BlockMode BlockMode::Of(const CpuState& state) {
    BlockMode m;
    const CpuMode mode = state.mode();
    const bool ss_big = (state.segment(SegReg::Ss).attr >> 14) & 1;
    if (mode == CpuMode::Long64) {
        m.decode = DecodeMode::Bits64;
        m.stack_size = 8;
        m.flat = true;
        return m;
    }
    m.decode = state.cs_default32() && mode != CpuMode::Real && mode != CpuMode::Virtual8086 ? DecodeMode::Bits32
                                                                                              : DecodeMode::Bits16;
    m.stack_size = ss_big && mode != CpuMode::Real && mode != CpuMode::Virtual8086 ? 4 : 2;
    m.flat = false;
    m.real_segments = mode == CpuMode::Real || mode == CpuMode::Virtual8086;
    if (!m.real_segments) {
        // Usable, present, S, data, writable, expand-up (the accessed bit and DPL do not matter).
        constexpr u32 kMask = 0x1009E, kFlatData = 0x92;
        for (unsigned r = 0; r < kNumSegRegs; ++r) {
            const Segment& sg = state.seg[r];
            const bool flat = (sg.attr & kMask) == kFlatData && sg.limit == 0xFFFFFFFF;
            if (!flat) m.checked_segments |= static_cast<u8>(1u << r);
        }
    }
    return m;
}

bool Translator::Translate(const DecodedInsn& insn, u64 rip) {
    insn_ = &insn;
    rip_ = rip;
    next_rip_ = rip + insn.length;
    next_rip_ = WrapIp(next_rip_, mode_.decode);
    cached_operand_ = nullptr;
    // LOCK, and XCHG with memory (locked without the prefix): the read-modify-write's store becomes a compare-exchange
    // against what its load read, atomic across vCPUs (LoadForUpdate, StoreUpdate).
    atomic_ = (insn.prefixes & prefix::Lock) != 0 || insn.mnemonic == Mnemonic::XCHG;
    atomic_load_.reset();
    ir_.GuestInsn(rip, insn.length);
    const unsigned m = static_cast<unsigned>(insn.mnemonic);
    const Handler handler = m < kNumMnemonics ? kDispatch[m] : nullptr;
    if (handler == nullptr) {
        log::Log(log::Category::Unimp, "unimplemented instruction {} at {:#x}", MnemonicName(insn.mnemonic), rip);
        return Undefined();
    }
    if (const char* feature = ExtensionOf(insn.mnemonic); feature && !system::HasFeature(feature)) return Undefined();
    return (this->*handler)(insn);
}

void Translator::EndBlock(u64 next_rip) {
    if (!ir_.block().terminated()) ir_.ExitConst(next_rip);
}

void Translator::RaiseAt(u64 rip, u8 vector, u32 error_code) {
    ir_.GuestInsn(rip, 0);
    ir_.RaiseException(vector, error_code);
}

bool Translator::Unimplemented(const char* what) {
    log::Log(log::Category::Unimp, "unimplemented: {} ({}) at {:#x}", MnemonicName(insn_->mnemonic), what, rip_);
    return Undefined();
}

void Translator::LoadRealSegment(unsigned seg, Value selector) {
    const u32 base = static_cast<u32>(offsetof(CpuState, seg) + seg * sizeof(Segment));
    ir_.SetField(base + offsetof(Segment, selector), selector);
    const Value linear_base = ir_.Shl(ir_.ZeroExtend(selector, ir::Type::U64), ir::Emitter::Imm8(4));
    ir_.SetField(base + offsetof(Segment, base), linear_base);
}

bool Translator::Undefined() {
    ir_.RaiseException(vec::UD);
    return false;
}

}  // namespace emu::cpu::translate
