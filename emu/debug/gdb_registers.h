#pragma once
// The registers gdb sees, in the order of its 'g' packet and 'p'/'P' numbers, and the target description XML that
// names them (gdb's features org.gnu.gdb.i386.core, .sse and .segments, plus a system feature with the control
// registers). One table (gdb_registers.cpp) defines both, so the XML and the packets cannot disagree.
#include <optional>
#include <string>
#include <string_view>

#include "emu/common/types.h"
#include "emu/cpu/state/cpu_state.h"

namespace emu::debug {

// How many registers the description has (the 'g' packet carries all of them).
unsigned GdbRegisterCount();

// Register `n` as gdb's target byte order (little-endian) hex, or nullopt for a number past the last.
std::optional<std::string> ReadGdbRegister(const cpu::CpuState& state, unsigned n);
// Sets register `n` from little-endian hex of its exact size. False for a bad number or size.
bool WriteGdbRegister(cpu::CpuState& state, unsigned n, std::string_view hex);

// Register `n`'s name ("rax", "cr3"), or null past the last.
const char* GdbRegisterName(unsigned n);
// Register `n`'s value as a number when it has at most 64 bits (the monitor's `info registers`), else nullopt.
std::optional<u64> GdbRegisterValue(const cpu::CpuState& state, unsigned n);

// Every register's hex, concatenated ('g').
std::string ReadAllGdbRegisters(const cpu::CpuState& state);
// Sets registers from a 'G' payload in order; a shorter payload sets the registers it covers. False if malformed.
bool WriteAllGdbRegisters(cpu::CpuState& state, std::string_view hex);

// The target description (qXfer:features:read:target.xml).
const std::string& GdbTargetXml();

}  // namespace emu::debug
