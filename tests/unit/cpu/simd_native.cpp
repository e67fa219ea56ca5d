#include "simd_native.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace emu::cpu::test {
namespace {

// Fixed layout the inline assembly addresses by offset.
struct alignas(64) Frame {
    u8 fx_in[512];     // 0
    u8 fx_out[512];    // 512
    u8 host[512];      // 1024: the host's own FPU/SSE state, restored afterwards
    u64 gpr_in[6];     // 1536
    u64 rflags_in;     // 1584
    u64 rflags_out;    // 1592
    u64 gpr_out[6];    // 1600
};
static_assert(offsetof(Frame, gpr_in) == 1536 && offsetof(Frame, rflags_in) == 1584 &&
              offsetof(Frame, gpr_out) == 1600);

volatile sig_atomic_t g_signal = 0;
u64 g_code_begin = 0;
u64 g_code_end = 0;   // the RET after the instruction: where a faulting instruction resumes

void OnSignal(int sig, siginfo_t*, void* context) {
    auto* uc = static_cast<ucontext_t*>(context);
    const u64 rip = static_cast<u64>(uc->uc_mcontext.gregs[REG_RIP]);
    if (rip < g_code_begin || rip >= g_code_end) {
        signal(sig, SIG_DFL);  // not the instruction under test: a real crash
        return;
    }
    g_signal = sig;
    uc->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(g_code_end);
}

void RunFrame(Frame* frame, u64 code) {
    register Frame* f asm("r12") = frame;
    register u64 fn asm("r13") = code;
    asm volatile(
        "fxsave64 1024(%%r12)\n\t"
        "sub $256, %%rsp\n\t"  // keep the red zone intact across CALL and PUSHF
        "fxrstor64 (%%r12)\n\t"
        "mov 1536(%%r12), %%rax\n\t"
        "mov 1544(%%r12), %%rcx\n\t"
        "mov 1552(%%r12), %%rdx\n\t"
        "mov 1560(%%r12), %%rbx\n\t"
        "mov 1568(%%r12), %%rsi\n\t"
        "mov 1576(%%r12), %%rdi\n\t"
        "pushq 1584(%%r12)\n\t"
        "popfq\n\t"
        "call *%%r13\n\t"
        "pushfq\n\t"
        "popq 1592(%%r12)\n\t"
        "mov %%rax, 1600(%%r12)\n\t"
        "mov %%rcx, 1608(%%r12)\n\t"
        "mov %%rdx, 1616(%%r12)\n\t"
        "mov %%rbx, 1624(%%r12)\n\t"
        "mov %%rsi, 1632(%%r12)\n\t"
        "mov %%rdi, 1640(%%r12)\n\t"
        "fxsave64 512(%%r12)\n\t"
        "add $256, %%rsp\n\t"
        "fxrstor64 1024(%%r12)\n\t"
        :
        : "r"(f), "r"(fn)
        : "rax", "rcx", "rdx", "rbx", "rsi", "rdi", "memory", "cc");
}

}  // namespace

NativeRunner::NativeRunner() {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap of the native code page failed");
    code_ = static_cast<u8*>(p);
    data_ = static_cast<u8*>(std::aligned_alloc(64, kDataSize));
    struct sigaction sa {};
    sa.sa_sigaction = &OnSignal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    for (int sig : {SIGFPE, SIGSEGV, SIGBUS, SIGILL}) sigaction(sig, &sa, nullptr);
}

NativeRunner::~NativeRunner() {
    munmap(code_, 4096);
    std::free(data_);
}

NativeResult NativeRunner::Run(std::span<const u8> code, const NativeState& in) {
    std::memcpy(code_, code.data(), code.size());
    code_[code.size()] = 0xC3;  // RET
    g_code_begin = reinterpret_cast<u64>(code_);
    g_code_end = g_code_begin + code.size();
    g_signal = 0;
    Frame frame{};
    std::memcpy(frame.fx_in, in.fx.data(), 512);
    std::memcpy(frame.gpr_in, in.gpr.data(), sizeof frame.gpr_in);
    frame.rflags_in = in.rflags;
    RunFrame(&frame, g_code_begin);
    NativeResult r;
    std::memcpy(r.state.fx.data(), frame.fx_out, 512);
    std::memcpy(r.state.gpr.data(), frame.gpr_out, sizeof frame.gpr_out);
    r.state.rflags = frame.rflags_out;
    r.signal = g_signal;
    return r;
}

}  // namespace emu::cpu::test
