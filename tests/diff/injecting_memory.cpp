#include "tests/diff/injecting_memory.h"

namespace emu::diff {

void InjectingMemory::Arm(FaultInjection injection) {
    injection_ = injection;
    injected_ = false;
    log_.clear();
}

bool InjectingMemory::Inject(const DataAccess& access, cpu::MemFault* fault) {
    log_.push_back(access);
    if (log_.size() != injection_.at) return false;
    injected_ = true;
    *fault = cpu::MemFault{14, injection_.error_code, access.linear};
    return true;
}

bool InjectingMemory::Read(const cpu::CpuState& state, u64 linear, void* dst, unsigned size, cpu::MemAccess access,
                           bool user, cpu::MemFault* fault) {
    if (access == cpu::MemAccess::Fetch) return inner_.Read(state, linear, dst, size, access, user, fault);
    if (Inject(DataAccess{linear, size, access, false, user}, fault)) return false;
    return inner_.Read(state, linear, dst, size, access, user, fault);
}

bool InjectingMemory::Write(const cpu::CpuState& state, u64 linear, const void* src, unsigned size, bool user,
                            cpu::MemFault* fault) {
    if (Inject(DataAccess{linear, size, cpu::MemAccess::Write, true, user}, fault)) {
        if (injection_.torn_write) {
            cpu::MemFault ignored;
            inner_.Write(state, linear, src, size, user, &ignored);
        }
        return false;
    }
    return inner_.Write(state, linear, src, size, user, fault);
}

}  // namespace emu::diff
