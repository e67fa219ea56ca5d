#include "tests/diff/native_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace emu::diff {

// The control block sits in the page after the code page, at fixed addresses so that the entry and exit
// stubs reach it with absolute disp32 addressing: no register is needed to address it, and MOV, PUSH,
// POP and JMP leave the flags alone.
#define EMU64_DIFF_CTL 0x10001000
static_assert(EMU64_DIFF_CTL == kCodeBase + kCodeSize);

namespace {

struct ControlBlock {
    u64 in_gpr[16];      // +0x000
    u64 in_rflags;       // +0x080
    u64 out_gpr[16];     // +0x088
    u64 out_rflags;      // +0x108
    u64 host_rsp;        // +0x110
    u64 entry;           // +0x118: the snippet's address
    u64 exit;            // +0x120: emu64_diff_exit
    u8 pad[0x200 - 0x128];
    alignas(16) u8 in_fx[kFxSize];    // +0x200: FXRSTOR64 before the snippet
    alignas(16) u8 out_fx[kFxSize];   // +0x400: FXSAVE64 after it
    alignas(16) u8 host_fx[kFxSize];  // +0x600: the C code's own x87/SSE state, put back at the exit
};
static_assert(offsetof(ControlBlock, in_rflags) == 0x80 && offsetof(ControlBlock, out_gpr) == 0x88);
static_assert(offsetof(ControlBlock, out_rflags) == 0x108 && offsetof(ControlBlock, host_rsp) == 0x110);
static_assert(offsetof(ControlBlock, entry) == 0x118 && offsetof(ControlBlock, exit) == 0x120);
static_assert(offsetof(ControlBlock, in_fx) == 0x200 && offsetof(ControlBlock, out_fx) == 0x400 &&
              offsetof(ControlBlock, host_fx) == 0x600);

ControlBlock* const kCtl = reinterpret_cast<ControlBlock*>(EMU64_DIFF_CTL);

// The bytes appended after each snippet natively: jmp qword ptr [ctl.exit] (absolute disp32 via SIB).
constexpr u32 kExitSlot = EMU64_DIFF_CTL + 0x120;
constexpr u8 kExitJump[7] = {0xFF, 0x24, 0x25, u8(kExitSlot), u8(kExitSlot >> 8), u8(kExitSlot >> 16),
                             u8(kExitSlot >> 24)};

}  // namespace

extern "C" void emu64_diff_enter();
extern "C" void emu64_diff_exit();

// Entry: save the callee-saved registers and the host RSP, save the host's x87/SSE state and load the case's
// (FXSAVE64/FXRSTOR64; FNINIT first, so that nothing of the C code's x87 state could leak into the case even on
// a CPU whose FXRSTOR skips the pointers, the FXSAVE_LEAK erratum of older AMD parts), load RFLAGS then all GPRs
// (RSP included) with flag-neutral MOVs, jump to the snippet. Exit: store all GPRs and the x87/SSE state (FXSAVE
// raises no #MF for a pending exception), put the host's x87/SSE state back, switch back to the host stack,
// capture RFLAGS with PUSHFQ, clear DF for the C ABI, return to the caller of emu64_diff_enter.
#define EMU64_S2(x) #x
#define EMU64_S(x) EMU64_S2(x)
#define EMU64_LOAD(reg, idx) "mov " #reg ", qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + " #idx " * 8]\n"
#define EMU64_STORE(reg, idx) "mov qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x88 + " #idx " * 8], " #reg "\n"
asm(".intel_syntax noprefix\n"
    ".text\n"
    ".globl emu64_diff_enter\n"
    ".hidden emu64_diff_enter\n"
    ".type emu64_diff_enter, @function\n"
    "emu64_diff_enter:\n"
    "push rbx\n push rbp\n push r12\n push r13\n push r14\n push r15\n"
    "mov qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x110], rsp\n"
    "fxsave64 [" EMU64_S(EMU64_DIFF_CTL) " + 0x600]\n"
    "fninit\n"
    "fxrstor64 [" EMU64_S(EMU64_DIFF_CTL) " + 0x200]\n"
    "push qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x80]\n"
    "popfq\n"
    EMU64_LOAD(rax, 0) EMU64_LOAD(rcx, 1) EMU64_LOAD(rdx, 2) EMU64_LOAD(rbx, 3)
    EMU64_LOAD(rbp, 5) EMU64_LOAD(rsi, 6) EMU64_LOAD(rdi, 7) EMU64_LOAD(r8, 8)
    EMU64_LOAD(r9, 9) EMU64_LOAD(r10, 10) EMU64_LOAD(r11, 11) EMU64_LOAD(r12, 12)
    EMU64_LOAD(r13, 13) EMU64_LOAD(r14, 14) EMU64_LOAD(r15, 15) EMU64_LOAD(rsp, 4)
    "jmp qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x118]\n"
    ".size emu64_diff_enter, . - emu64_diff_enter\n"
    ".globl emu64_diff_exit\n"
    ".hidden emu64_diff_exit\n"
    ".type emu64_diff_exit, @function\n"
    "emu64_diff_exit:\n"
    EMU64_STORE(rax, 0) EMU64_STORE(rcx, 1) EMU64_STORE(rdx, 2) EMU64_STORE(rbx, 3)
    EMU64_STORE(rsp, 4) EMU64_STORE(rbp, 5) EMU64_STORE(rsi, 6) EMU64_STORE(rdi, 7)
    EMU64_STORE(r8, 8) EMU64_STORE(r9, 9) EMU64_STORE(r10, 10) EMU64_STORE(r11, 11)
    EMU64_STORE(r12, 12) EMU64_STORE(r13, 13) EMU64_STORE(r14, 14) EMU64_STORE(r15, 15)
    "fxsave64 [" EMU64_S(EMU64_DIFF_CTL) " + 0x400]\n"
    "fxrstor64 [" EMU64_S(EMU64_DIFF_CTL) " + 0x600]\n"
    "mov rsp, qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x110]\n"
    "pushfq\n"
    "pop qword ptr [" EMU64_S(EMU64_DIFF_CTL) " + 0x108]\n"
    "cld\n"
    "pop r15\n pop r14\n pop r13\n pop r12\n pop rbp\n pop rbx\n"
    "ret\n"
    ".size emu64_diff_exit, . - emu64_diff_exit\n"
    ".att_syntax prefix\n");

struct NativeRunner::Shared {
    std::array<u8, kDataSize> pristine;
    std::atomic<u32> count;
    std::atomic<u32> done;  // cases the child has finished in the current batch
    static constexpr unsigned kBatch = 128;
    std::array<CaseInput, kBatch> cases;
    std::array<CaseResult, kBatch> results;
};

namespace {

// Child-side state. The child is single-threaded; the handler reaches it through these globals.
sigjmp_buf g_jump;
struct FaultCapture {
    int signal;
    greg_t gregs[NGREG];
    alignas(16) u8 fx[kFxSize];
} g_fault;
alignas(16) u8 g_host_fx[kFxSize];  // the C code's x87/SSE state, put back after a fault

void OnSignal(int sig, siginfo_t*, void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    const u64 rip = static_cast<u64>(uc->uc_mcontext.gregs[REG_RIP]);
    if (rip < kCodeBase || rip >= kCodeBase + kCodeSize) _exit(100 + sig);  // not the snippet: a tester bug
    g_fault.signal = sig;
    std::memcpy(g_fault.gregs, uc->uc_mcontext.gregs, sizeof(g_fault.gregs));
    // The signal frame's FPU area starts with the FXSAVE image of the state at the fault.
    if (uc->uc_mcontext.fpregs) std::memcpy(g_fault.fx, uc->uc_mcontext.fpregs, kFxSize);
    else std::memset(g_fault.fx, 0, kFxSize);
    siglongjmp(g_jump, 1);
}

// ucontext greg index for each Gpr number.
constexpr int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

void RunOneCase(const CaseInput& in, CaseResult& out, std::span<u8> data, std::span<const u8> pristine) {
    u8* code = reinterpret_cast<u8*>(kCodeBase);
    const unsigned len = std::min<unsigned>(in.code_length, kMaxCodeBytes);
    std::memcpy(code, in.code.data(), len);
    std::memcpy(code + len, kExitJump, sizeof(kExitJump));
    ApplyPatches(in, data);
    std::memcpy(kCtl->in_gpr, in.gpr.data(), sizeof(kCtl->in_gpr));
    kCtl->in_rflags = in.rflags;
    std::memcpy(kCtl->in_fx, in.fx.data(), kFxSize);

    if (sigsetjmp(g_jump, 0) == 0) {
        emu64_diff_enter();
        out.outcome = Outcome::Completed;
        std::memcpy(out.gpr.data(), kCtl->out_gpr, sizeof(kCtl->out_gpr));
        out.rflags = kCtl->out_rflags;
        std::memcpy(out.fx.data(), kCtl->out_fx, kFxSize);
        out.rip = kCodeBase + len;
        out.vector = 0;
        out.error_code = 0;
        out.cr2 = 0;
    } else {
        out.outcome = Outcome::Exception;
        for (unsigned i = 0; i < 16; ++i) out.gpr[i] = static_cast<u64>(g_fault.gregs[kGregOf[i]]);
        out.rflags = static_cast<u64>(g_fault.gregs[REG_EFL]);
        out.rip = static_cast<u64>(g_fault.gregs[REG_RIP]);
        out.vector = static_cast<u8>(g_fault.gregs[REG_TRAPNO]);
        out.error_code = static_cast<u32>(g_fault.gregs[REG_ERR]);
        out.cr2 = out.vector == 14 ? static_cast<u64>(g_fault.gregs[REG_CR2]) : 0;
        std::memcpy(out.fx.data(), g_fault.fx, kFxSize);
        // The handler ran with a fresh x87/SSE state; the C code gets its own back.
        asm volatile("fxrstor64 %0" : : "m"(g_host_fx));
    }
    CollectChangesAndRestore(data, pristine, out);
}

bool MapFixed(u64 addr, u64 size, int prot) {
    void* p = mmap(reinterpret_cast<void*>(addr), size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    return p == reinterpret_cast<void*>(addr);
}

// A template because Shared is a private member type.
template <typename S>
[[noreturn]] void ChildLoop(S* shared, int in_fd, int out_fd) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Code page + control page, then the data area; the guard range must stay unmapped (#PF on both sides).
    if (!MapFixed(kCodeBase, 2 * kCodeSize, PROT_READ | PROT_WRITE | PROT_EXEC) ||
        !MapFixed(kDataBase, kDataSize, PROT_READ | PROT_WRITE) || !MapFixed(kGuardBase, kGuardSize, PROT_NONE) ||
        munmap(reinterpret_cast<void*>(kGuardBase), kGuardSize) != 0) {
        u8 fail = 'F';
        (void)!write(out_fd, &fail, 1);
        _exit(2);
    }
    kCtl->entry = kCodeBase;
    kCtl->exit = reinterpret_cast<u64>(&emu64_diff_exit);
    std::span<u8> data(reinterpret_cast<u8*>(kDataBase), kDataSize);
    std::memcpy(data.data(), shared->pristine.data(), kDataSize);

    static u8 alt_stack[64 * 1024];
    stack_t ss{};
    ss.ss_sp = alt_stack;
    ss.ss_size = sizeof(alt_stack);
    sigaltstack(&ss, nullptr);
    struct sigaction sa{};
    sa.sa_sigaction = OnSignal;
    // SA_NODEFER: siglongjmp leaves the handler without restoring the mask, so nothing may stay blocked.
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP}) sigaction(sig, &sa, nullptr);
    asm volatile("fxsave64 %0" : "=m"(g_host_fx));

    u8 ready = 'R';
    if (write(out_fd, &ready, 1) != 1) _exit(3);
    for (;;) {
        u8 cmd;
        if (read(in_fd, &cmd, 1) != 1) _exit(0);
        const u32 count = shared->count.load();
        for (u32 i = shared->done.load(); i < count; ++i) {
            RunOneCase(shared->cases[i], shared->results[i], data, shared->pristine);
            shared->done.store(i + 1);
        }
        if (write(out_fd, &ready, 1) != 1) _exit(3);
    }
}
}  // namespace

namespace {

// Runs `probe` in a child process: its exit status, or -1 if it died (of a signal).
int RunProbe(void (*probe)()) {
    const pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        probe();
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

void* UnmappedPage() {
    return mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

void ProbePtwrite() { asm volatile(".byte 0xF3, 0x0F, 0xAE, 0xE0" ::: "memory"); }  // PTWRITE EAX

// FSTP m32 with the stack empty and #I unmasked: the stack underflow suppresses the store.
void ProbeSuppressedStore() {
    void* page = UnmappedPage();
    static const u16 kFcw = 0x037E;
    asm volatile("fninit\n fldcw %0\n fstps (%1)\n" : : "m"(kFcw), "r"(page) : "memory");
    _exit(1);  // no #PF
}

void OnProbeFault(int, siginfo_t*, void* context) {
    const auto* uc = static_cast<const ucontext_t*>(context);
    _exit(uc->uc_mcontext.fpregs && ((uc->uc_mcontext.fpregs->swd >> 11) & 7) == 0 ? 1 : 2);
}

// FLD1 leaves TOP = 7; then MOVQ m64, MM0 to an unmapped page: what TOP is at the #PF.
void ProbeMmxStoreFault() {
    void* page = UnmappedPage();
    struct sigaction sa{};
    sa.sa_sigaction = OnProbeFault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    asm volatile("fninit\n fld1\n movq %%mm0, (%0)\n" : : "r"(page) : "memory");
    _exit(3);  // no fault: not expected
}

u8* g_probe_bytes = nullptr;

void OnSplitStoreFault(int, siginfo_t*, void*) {
    for (unsigned i = 0; i < 8; ++i)
        if (g_probe_bytes[i] != 0) _exit(2);
    _exit(1);  // the low 8 bytes (+0.0) are in memory
}

// FSTP m80 of +0.0 to the last 8 bytes of a page (filled with 0xAA) before an unmapped one: what is in them at the
// #PF.
void ProbeSplitStore() {
    void* pages = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || munmap(static_cast<u8*>(pages) + 4096, 4096) != 0) _exit(3);
    g_probe_bytes = static_cast<u8*>(pages) + 4096 - 8;
    std::memset(g_probe_bytes, 0xAA, 8);
    struct sigaction sa{};
    sa.sa_sigaction = OnSplitStoreFault;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    asm volatile("fninit\n fldz\n fstpt (%0)\n" : : "r"(g_probe_bytes) : "memory");
    _exit(3);  // no fault: not expected
}

// REPNE SCASB with a 32-bit address size and ECX = 0 (no iteration): is RCX[63:32] still there?
void ProbeRepZeroCount() {
    u64 rcx = 0xA5A5A5A500000000ull, rdi = 0;
    asm volatile(".byte 0x67, 0xF2, 0xAE" : "+c"(rcx), "+D"(rdi) : : "memory", "cc");
    _exit(rcx == 0 ? 1 : 2);
}

// FXSAVE through RBP (the SS segment) at an address both non-canonical and misaligned: #SS(0) (SIGBUS) or #GP(0)
// (SIGSEGV) first.
void ProbeFxsaveFaultOrder() {
    signal(SIGBUS, [](int) { _exit(1); });
    signal(SIGSEGV, [](int) { _exit(2); });
    const u64 address = 0x8000000000000008ull;
    asm volatile("push %%rbp\n mov %0, %%rbp\n fxsave (%%rbp)\n pop %%rbp\n" : : "r"(address) : "memory");
    _exit(3);  // no fault: not expected
}

}  // namespace

HostProbes ProbeHost() {
    HostProbes p;
    p.ptwrite = RunProbe(ProbePtwrite) == 0;
    p.x87_suppressed_store_skips_checks = RunProbe(ProbeSuppressedStore) == 1;
    p.mmx_store_fault_sets_top = RunProbe(ProbeMmxStoreFault) == 1;
    p.x87_m80_store_split = RunProbe(ProbeSplitStore) == 1;
    p.rep_a32_zero_count_clears_rcx = RunProbe(ProbeRepZeroCount) == 1;
    p.fxsave_ss_canonical_first = RunProbe(ProbeFxsaveFaultOrder) == 1;
    return p;
}

std::string_view NativeErrorMessage(NativeError error) {
    switch (error) {
        case NativeError::SharedMemory: return "could not map the memory shared with the native child";
        case NativeError::Fork: return "could not start the native child process";
        case NativeError::ChildSetup: return "the native child could not map its pages at the fixed addresses";
        case NativeError::Pipe: return "the pipe to the native child broke";
    }
    return "unknown native runner error";
}

Result<std::unique_ptr<NativeRunner>, NativeError> NativeRunner::Start(std::span<const u8> pristine) {
    std::unique_ptr<NativeRunner> runner(new NativeRunner());
    void* mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return Err(NativeError::SharedMemory);
    runner->shared_ = new (mem) Shared();
    std::memcpy(runner->shared_->pristine.data(), pristine.data(), std::min<size_t>(pristine.size(), kDataSize));
    if (auto r = runner->SpawnChild(); !r) return Err(r.error());
    return runner;
}

NativeRunner::~NativeRunner() {
    KillChild();
    if (shared_) {
        shared_->~Shared();
        munmap(shared_, sizeof(Shared));
    }
}

Result<void, NativeError> NativeRunner::SpawnChild() {
    int down[2], up[2];
    if (pipe2(down, O_CLOEXEC) != 0) return Err(NativeError::Pipe);
    if (pipe2(up, O_CLOEXEC) != 0) {
        close(down[0]);
        close(down[1]);
        return Err(NativeError::Pipe);
    }
    const pid_t pid = fork();
    if (pid < 0) return Err(NativeError::Fork);
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        ChildLoop(shared_, down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    child_pid_ = pid;
    to_child_ = down[1];
    from_child_ = up[0];
    u8 ready = 0;
    pollfd pfd{from_child_, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms_) != 1 || read(from_child_, &ready, 1) != 1 || ready != 'R') {
        KillChild();
        return Err(NativeError::ChildSetup);
    }
    return {};
}

void NativeRunner::KillChild() {
    if (child_pid_ > 0) {
        kill(child_pid_, SIGKILL);
        waitpid(child_pid_, nullptr, 0);
        child_pid_ = -1;
    }
    if (to_child_ >= 0) close(to_child_);
    if (from_child_ >= 0) close(from_child_);
    to_child_ = from_child_ = -1;
}

Result<void, NativeError> NativeRunner::Run(std::span<const CaseInput> cases, std::span<CaseResult> results) {
    size_t pos = 0;
    while (pos < cases.size()) {
        const u32 n = static_cast<u32>(std::min<size_t>(Shared::kBatch, cases.size() - pos));
        std::copy_n(cases.begin() + static_cast<std::ptrdiff_t>(pos), n, shared_->cases.begin());
        shared_->count.store(n);
        shared_->done.store(0);
        while (shared_->done.load() < n) {
            const u8 go = 'G';
            if (write(to_child_, &go, 1) != 1) return Err(NativeError::Pipe);
            pollfd pfd{from_child_, POLLIN, 0};
            u8 reply = 0;
            const int polled = poll(&pfd, 1, timeout_ms_);
            if (polled == 1 && read(from_child_, &reply, 1) == 1) break;
            // The child hung (no answer) or died (EOF): blame the case it was running, then carry on.
            const u32 culprit = shared_->done.load();
            CaseResult& bad = shared_->results[culprit];
            bad = CaseResult{};
            bad.outcome = polled > 0 ? Outcome::Crashed : Outcome::Timeout;
            KillChild();
            shared_->done.store(culprit + 1);
            if (auto r = SpawnChild(); !r) return Err(r.error());
        }
        std::copy_n(shared_->results.begin(), n, results.begin() + static_cast<std::ptrdiff_t>(pos));
        pos += n;
    }
    return {};
}

}  // namespace emu::diff
