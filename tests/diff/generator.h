#pragma once
// Builds differential test cases: sequences of 1-4 instructions (up to 8 on request) with random operands, random
// initial registers and flags, memory operands that land in the data area (or, rarely and on purpose, in the
// unmapped guard range or at a non-canonical address), and the set of flags and registers whose final
// value the SDM leaves undefined. A case depends only on (seed, index).
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tests/diff/case.h"

namespace emu::diff {

// Instruction classes; a case draws each of its instructions from the enabled ones.
#define EMU64_DIFF_CLASSES(X)                                                              \
    X(Alu, "alu")                 /* ADD OR ADC SBB AND SUB XOR CMP: 00-3F, 80, 81, 83 */ \
    X(Unary, "unary")             /* TEST NOT NEG INC DEC: 84 85 A8 A9 F6 F7 FE FF */      \
    X(MulDiv, "muldiv")           /* MUL IMUL DIV IDIV: F6 F7 /4-7 */                      \
    X(Shift, "shift")             /* ROL ROR RCL RCR SHL SHR SAR: C0 C1 D0-D3 */           \
    X(ShiftDouble, "shiftd")      /* SHLD SHRD: 0F A4 A5 AC AD */                          \
    X(Imul, "imul")               /* IMUL 0F AF, 69, 6B */                                 \
    X(BitTest, "bt")              /* BT BTS BTR BTC: 0F A3 AB B3 BB BA */                  \
    X(BitScan, "bitscan")         /* BSF BSR POPCNT LZCNT TZCNT */                         \
    X(Bswap, "bswap")             /* 0F C8+r */                                            \
    X(Mov, "mov")                 /* 88-8B C6 C7 B0+r B8+r A0-A3 */                        \
    X(MovExtend, "movx")          /* MOVZX MOVSX MOVSXD */                                 \
    X(Lea, "lea")                 /* 8D with every addressing form */                      \
    X(Exchange, "xchg")           /* XCHG XADD CMPXCHG CMPXCHG8B CMPXCHG16B */             \
    X(Cond, "cond")               /* SETcc CMOVcc Jcc JMP LOOPcc JRCXZ */                  \
    X(Convert, "convert")         /* CBW CWDE CDQE CWD CDQ CQO */                          \
    X(FlagOps, "flagops")         /* CLC STC CMC CLD STD LAHF SAHF */                      \
    X(String, "string")           /* MOVS STOS LODS CMPS SCAS with REP/REPE/REPNE */       \
    X(Stack, "stack")             /* PUSH POP PUSHF POPF CALL RET ENTER LEAVE */           \
    X(Misc, "misc")               /* MOVBE (by host CPUID), XLAT, NOP r/m */                \
    X(CrcAdx, "crcadx")           /* CRC32 (SSE4.2), ADCX ADOX (ADX), by host CPUID */      \
    X(Invalid, "invalid")         /* #UD: UD0-2, LOCK misuse, opcodes invalid in 64-bit; 16-byte instructions */ \
    X(Privileged, "privileged")   /* #GP(0) at CPL 3 with IOPL 0: HLT CLI STI IN OUT INS OUTS */                 \
    X(System, "system")           /* #GP(0) at CPL 3: CLTS INVD WBINVD MOV CRn/DRn RDMSR WRMSR SWAPGS LGDT... */ \
    X(X87Arith, "x87arith")       /* x87 arithmetic, compare, FCOMI, FCMOV, FXCH, constants, FLD/FST ST(i) */   \
    X(X87Mem, "x87mem")           /* FLD/FST(P) m32/m64/m80, FILD/FIST(P)/FISTTP m16/32/64, FBLD, FBSTP */       \
    X(X87Misc, "x87misc")         /* FPREM(1) FSCALE FXTRACT FRNDINT FSQRT FLDCW FNSTSW FNSTENV/FLDENV FNSAVE... */ \
    X(X87Trans, "x87trans")       /* FSIN FCOS FSINCOS FPTAN FPATAN F2XM1 FYL2X FYL2XP1 (1-ulp tolerance) */     \
    X(SseFloat, "ssefp")          /* SSE/SSE2/SSE3 float arithmetic, compare, logic, moves, shuffles, MOVMSK */ \
    X(SseConvert, "ssecvt")       /* CVT* between float formats, integers, MMX and GPRs */                     \
    X(SimdInt, "simdint")         /* MMX/SSE2 integer: arithmetic, pack, unpack, shifts, PINSRW/PEXTRW, MOVD */ \
    X(Ssse3, "ssse3")             /* PSHUFB PHADD PHSUB PMADDUBSW PMULHRSW PSIGN PABS PALIGNR */               \
    X(Sse41, "sse41")             /* SSE4.1 (and PCMPGTQ): PMOVSX/ZX BLEND ROUND DPPS PTEST PINSR/PEXTR ... */   \
    X(Sse42, "sse42")             /* SSE4.2 string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM */         \
    X(FpState, "fpstate")         /* FXSAVE(64) FXRSTOR XSAVE(64) LDMXCSR STMXCSR */

enum class InsnClass : u8 {
#define EMU64_DIFF_ENUM(name, str) name,
    EMU64_DIFF_CLASSES(EMU64_DIFF_ENUM)
#undef EMU64_DIFF_ENUM
    Count
};
inline constexpr unsigned kNumClasses = static_cast<unsigned>(InsnClass::Count);

std::string_view ClassName(InsnClass c);
std::optional<InsnClass> ClassFromName(std::string_view name);
std::vector<InsnClass> AllClasses();

// What the generator and the comparison know of the host CPU: CPUID bits that decide which encodings the generator
// may use, and the host's model-specific behaviours.
struct HostFeatures {
    bool popcnt = false;
    bool lzcnt = false;    // ABM; without it F3 0F BD decodes as BSR
    bool tzcnt = false;    // BMI1; without it F3 0F BC decodes as BSF
    bool cx16 = false;     // CMPXCHG16B
    bool lahf64 = false;   // LAHF/SAHF in 64-bit mode
    bool movbe = false;
    bool crc32 = false;    // SSE4.2
    bool adx = false;      // ADCX/ADOX
    // Model- and vendor-specific behaviours of the host that the emulated CPU (emu/cpu/system/cpuid.cpp: no FCS/FDS
    // deprecation, no FDP_EXCPTN_ONLY, no PTWRITE; the rest as on the AMD EPYC host diff-cpu was first validated on)
    // does not share. compare.cpp masks, and the generator avoids, exactly what each one changes; all are false on
    // that AMD host, where everything is compared. Detect() reads CPUID and runs the probes of native_runner.h.
    // x87 pointers as Intel documents them (vendor GenuineIntel): FXSAVE/XSAVE store FIP/FCS of the last non-control
    // instruction whatever FSW.ES says (SDM Vol. 1 8.1.8) and FOP only of one that incurred an unmasked exception
    // (SDM Vol. 1 8.1.9); AMD stores FOP/FIP/FDP in FXSAVE/XSAVE images only while FSW.ES = 1 (AMD APM Vol. 5
    // FXSAVE), as the emulator does.
    bool intel_x87_pointers = false;
    // The host's vendor is the emulated CPU's (cpu_model.h): results the manuals leave undefined but each vendor's
    // CPUs produce definitely (16-bit SHLD/SHRD by 17-31) and the x87 vendor differences of emu/cpu/fpu/README.md
    // (FPREM/FSCALE returning a denormal ST0 with UE unmasked) are compared.
    bool same_vendor = false;
    bool fdp_excptn_only = false;     // CPUID.(EAX=7,ECX=0):EBX[6]: FDP only for unmasked exceptions (SDM Vol. 1 8.1.8)
    bool fcs_fds_deprecated = false;  // CPUID.(EAX=7,ECX=0):EBX[13]: FCS and FDS saved as 0000H (SDM Vol. 1 8.1.8)
    // F3 0F AE /4 (PTWRITE) executes. Probed: a hypervisor can hide CPUID.(EAX=14H,ECX=0):EBX[4] (and Intel PT) but
    // not the instruction, as on the Intel CI host.
    bool ptwrite = false;
    // CPUID.(EAX=7,ECX=0):ECX[7] CET_SS: F3 0F AE /5 (register form) is INCSSP, #UD while shadow stacks are off, where
    // the emulated CPU (no CET) runs it as LFENCE as CPUs without CET do.
    bool cet_ss = false;
    // An x87 store that an unmasked #IA/#IS, #O or #U suppresses ("no value is stored", SDM Vol. 2 FST/FIST/FBSTP,
    // Vol. 1 8.5.4-8.5.5) skips the destination's page and canonical checks (Intel, probed); AMD and the emulator
    // raise the #PF/#GP first. The generator gives such stores no faulting address while the FCW may unmask them.
    bool x87_suppressed_store_skips_checks = false;
    // A MOVQ/MOVD/MOVNTQ/MASKMOVQ store from an MMX register that faults (#PF/#GP) has already set FSW.TOP to 0 (Intel,
    // probed); AMD and the emulator leave the x87 state as it was (a fault restores the state from before the
    // instruction, SDM Vol. 3 6.5). compare.cpp then compares TOP and FTW as the transition leaves them, and the x87
    // registers physically.
    bool mmx_store_fault_sets_top = false;
    // FSTP m80 and FBSTP with 8 or 9 of their 10 bytes before an unmapped page store the low 8 bytes before the #PF
    // on the rest (Intel, probed); AMD and the emulator store nothing (nothing in the SDM or the APM promises either).
    // Such addresses are not generated for them.
    bool x87_m80_store_split = false;
    // A REP string instruction with a 32-bit address size and ECX = 0 clears RCX[63:32] (Intel, probed). The SDM's
    // REP pseudocode writes the count register only inside the loop, which does not run, and the emulator (like
    // AMD hosts) leaves RCX alone. The generator then starts RCX[63:32] at zero for such a REP.
    bool rep_a32_zero_count_clears_rcx = false;
    // FXSAVE/FXRSTOR/XSAVE through RBP or RSP at an address both non-canonical and misaligned raise #SS(0) (Intel,
    // probed), not the #GP(0) of the alignment check as the emulator (and AMD hosts) do; the SDM lists both with no
    // order between them. Such addresses are not generated for them.
    bool fxsave_ss_canonical_first = false;
    static HostFeatures Detect();
};

// An x87 environment or state image the snippet stores (FNSTENV/FNSAVE, FXSAVE/XSAVE), for the pointer masks of
// compare.cpp.
enum class X87ImageKind : u8 {
    None,
    Env16,  // FNSTENV/FNSAVE with a 16-bit operand size (SDM Vol. 1 Figure 8-11)
    Env32,  // FNSTENV/FNSAVE with a 32-bit operand size (SDM Vol. 1 Figure 8-9)
    Fx32,   // FXSAVE/XSAVE without REX.W: 32-bit FIP/FDP with FCS/FDS (SDM Vol. 1 Table 10-2)
    Fx64,   // FXSAVE64/XSAVE64: 64-bit FIP/FDP
};
struct X87Image {
    u16 offset = 0;  // from kDataBase
    X87ImageKind kind = X87ImageKind::None;
};

struct GeneratedCase {
    u64 index = 0;
    CaseInput input;
    // Arithmetic flags and GPRs (bit n = Gpr n) to ignore: those the SDM leaves undefined after the
    // snippet completes, and the larger sets for a snippet that stops at an exception part way.
    u64 undefined_flags = 0;
    u16 undefined_gprs = 0;
    u64 undefined_flags_at_fault = 0;
    u16 undefined_gprs_at_fault = 0;
    std::vector<InsnClass> classes;  // one per instruction
    // The case runs an x87 transcendental: ST registers may differ by one ulp and C1 (round-up) is not
    // compared (the tolerance documented in emu/cpu/fpu/README.md).
    bool x87_tolerance = false;
    // Data-area offsets of the MXCSR_MASK fields of FXSAVE/XSAVE images the snippet writes (0xFFFF: none).
    // MXCSR_MASK is a model constant: AMD sets bit 17 (MM, misaligned SSE mode, AMD APM Vol. 4 MXCSR), which
    // the emulated CPU does not have; that one byte is not compared.
    std::array<u16, 4> mxcsr_mask_at{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF};
    // The x87 environment and state images the snippet stores, in order (kind None: unused; one per instruction
    // at most).
    std::array<X87Image, 8> x87_images{};
};

class Generator {
public:
    // `pristine` is the data area pattern both sides start from (kDataSize bytes), needed to know the
    // values memory operands will read.
    // `max_length` caps the instructions per case (1-kMaxLength); 1 gives minimal reproducers. With
    // `min_length` > 1 the length is uniform in [min_length, max_length] instead of favouring short cases
    // (the fault-injection test wants blocks of several memory-accessing instructions).
    Generator(u64 seed, std::span<const u8> pristine, HostFeatures features, std::vector<InsnClass> enabled,
              unsigned max_length = 4, unsigned min_length = 1);

    // BuildState::classes holds one entry per instruction.
    static constexpr unsigned kMaxLength = 8;

    GeneratedCase Generate(u64 index) const;

private:
    u64 seed_;
    std::span<const u8> pristine_;
    HostFeatures features_;
    std::vector<InsnClass> enabled_;
    unsigned max_length_;
    unsigned min_length_;
};

}  // namespace emu::diff
