#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/seeds/NAME/*): small valid inputs in each target's input layout
(fuzz_input.h: little-endian numbers from the front, byte strings with a u32 length first), so that the fuzzers start
from inputs that reach deep. Run from anywhere; the Multiboot seed needs a built test guest:
    tests/fuzz/make_seeds.py BUILD_DIR"""
import os
import pathlib
import subprocess
import struct
import sys

HERE = pathlib.Path(__file__).resolve().parent


def u8(v): return struct.pack('<B', v)
def u16(v): return struct.pack('<H', v)
def u32(v): return struct.pack('<I', v)
def u64(v): return struct.pack('<Q', v)
def blob(b): return u32(len(b)) + b


def write(target, name, data):
    d = HERE / 'seeds' / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# cpu_fuzz.cpp's modes: the first byte is the mode (byte % 6) and the CPL (bit 7: CPL 3, else 0).
REAL, PROT16, PROT32, LONG64, COMPAT16, COMPAT32 = range(6)


def mode_byte(mode, cpl):
    base = 0x80 if cpl == 3 else 0
    return u8(next(b for b in range(base, base + 6) if b % 6 == mode))


def cpu_seeds():
    regs = b''.join(u8(0) + u64(0x100 * i) for i in range(16))  # kind < 128: pointers into the data area
    prefix = mode_byte(LONG64, 3) + regs + u32(0x0) + u64(1) + u32(0)  # rflags, x87/SSE seed, no patches
    snippets = {
        'alu': bytes.fromhex('4801d8 480fafc1 4831c9 48f7d0 48d1e0'),
        'store': bytes.fromhex('488906 48894608 488b7e10'),
        'rep_movs': bytes.fromhex('b908000000 f348a5'),
        'cmpxchg16b': bytes.fromhex('f0480fc70e'),
        'x87': bytes.fromhex('d9e8 d9ee dec1 dd1e'),
        'sse': bytes.fromhex('660f58c1 0f5ec2 f30f2ad8'),
        'div_zero': bytes.fromhex('31c9 48f7f1'),
        'ud2': bytes.fromhex('0f0b'),
        'int80': bytes.fromhex('cd80'),
        'branch': bytes.fromhex('4885c0 7403 4889c3 eb00 e200'),
    }
    for name, code in snippets.items():
        write('cpu', name, prefix + code)
    # The other modes: 16- and 32-bit code at CPL 0 and 3 (loads, stores, a far-pointer load, a privileged move).
    code16 = bytes.fromhex('01d8 8b07 894702 f7e1 c41e0400 6a01 58 cd03')
    code32 = bytes.fromhex('01d8 8b06 894604 0f20c0 0f22d8 9c 58 e800000000 c3')
    others = {
        'real16': (REAL, 0, code16), 'prot16_cpl0': (PROT16, 0, code16), 'prot16_cpl3': (PROT16, 3, code16),
        'prot32_cpl0': (PROT32, 0, code32), 'prot32_cpl3': (PROT32, 3, code32),
        'compat32_cpl3': (COMPAT32, 3, code32), 'compat16_cpl0': (COMPAT16, 0, code16),
        'long64_cpl0': (LONG64, 0, bytes.fromhex('0f20d8 0f22d8 fa fb 0f01f8')),
    }
    for name, (mode, cpl, code) in others.items():
        write('cpu', name, mode_byte(mode, cpl) + regs + u32(0x0) + u64(1) + u32(0) + code)


def bzimage():
    setup_sects = 1
    kernel = b'\xf4' * 4096
    hdr = bytearray(512 * (setup_sects + 1))
    hdr[0x1F1] = setup_sects
    struct.pack_into('<I', hdr, 0x1F4, len(kernel) // 16)   # syssize
    struct.pack_into('<H', hdr, 0x1FE, 0xAA55)
    hdr[0x202:0x206] = b'HdrS'
    struct.pack_into('<H', hdr, 0x206, 0x20F)               # protocol 2.15
    hdr[0x211] = 0x01                                       # LOADED_HIGH
    struct.pack_into('<I', hdr, 0x22C, 0x7FFFFFFF)          # initrd_addr_max
    struct.pack_into('<I', hdr, 0x230, 0x200000)            # kernel_alignment
    hdr[0x234] = 1                                          # relocatable
    struct.pack_into('<H', hdr, 0x236, 0x1)                 # XLF_KERNEL_64
    struct.pack_into('<I', hdr, 0x238, 2048)                # cmdline_size
    struct.pack_into('<Q', hdr, 0x258, 0x1000000)           # pref_address
    struct.pack_into('<I', hdr, 0x260, 0x100000)            # init_size
    return bytes(hdr) + kernel


def loader_seeds(build):
    write('loaders', 'bzimage', u32(0) + blob(b'initrd' * 100) + blob(b'console=ttyS0 quiet') + u8(0) + bzimage())
    write('loaders', 'bzimage32', u32(0) + blob(b'') + blob(b'x' * 300) + u8(1) + bzimage())
    elf = pathlib.Path(build) / 'guest-images/testguests/reset32.elf'
    if elf.exists():
        write('loaders', 'multiboot', u32(1) + blob(b'module' * 50) + blob(b'reset32.elf a=b') + elf.read_bytes())
    hello = bytes.fromhex('b8 01000000 f4')
    for mode in range(3):
        write('loaders', f'flat{mode}', u32(2) + u32(mode) + u8(0) + u64(0x10000) + u64(0x8000) + u64(0x10000)
              + hello)


def virtio_seeds():
    size = 8
    ram = bytearray(0x4000)
    # Descriptor 0 -> 1 (readable then writable), descriptor 2 indirect -> a table of two at 0x3800.
    struct.pack_into('<QIHH', ram, 0x1000 + 0, 0x3000 + 0x400, 16, 1, 1)
    struct.pack_into('<QIHH', ram, 0x1000 + 16, 0x3000 + 0x500, 64, 2, 0)
    struct.pack_into('<QIHH', ram, 0x1000 + 32, 0x3800, 32, 4, 0)
    struct.pack_into('<QIHH', ram, 0x3800, 0x3000 + 0x600, 8, 1, 1)
    struct.pack_into('<QIHH', ram, 0x3810, 0x3000 + 0x700, 8, 2, 0)
    struct.pack_into('<HHHH', ram, 0x2000, 0, 2, 0, 2)    # avail: flags, idx 2, ring[0] = 0, ring[1] = 2
    layout = u16(size) + u64(0x1000) + u64(0x2000) + u64(0x3000)
    drain = u32(1) + (u16(16) + u16(64)) * 4
    write('virtio', 'chains', layout + u8(3) + blob(bytes(ram)) + u16(0) + drain + u32(3) + drain)
    more = u32(0) + u32(0x2002) + blob(u16(5))            # the driver moves avail idx on
    write('virtio', 'avail_jump', layout + u8(1) + blob(bytes(ram)) + u16(0) + drain + more + drain)


def devices_seeds():
    def port_write(port, value, size_log2): return u32(0) + u16(port) + u64(value) + u32(size_log2)
    def port_read(port, size_log2): return u32(1) + u16(port) + u32(size_log2)
    # MMIO and 'take interrupts' name the CPU (0 or 1) whose memory path / interrupt pins they use.
    def mmio_write(place, off, value, size_log2, cpu=0):
        return u32(2) + u8(cpu) + u8(place) + u32(off) + u64(value) + u32(size_log2)
    def mmio_read(place, off, size_log2, cpu=0): return u32(3) + u8(cpu) + u8(place) + u32(off) + u32(size_log2)
    def take_interrupts(cpu): return u32(7) + u8(cpu)
    def apic_base(cpu, place, flags): return u32(8) + u8(cpu) + u8(0) + u64(flags) + u8(place) + u32(0)
    def apic_msr(cpu, index, value, write_):
        sel = u32(1) + u32(index - 0x800) if index != 0x6E0 else u32(0)
        return u32(9) + u8(cpu) + sel + u64(value) + u8(1 if write_ else 0)
    def cfg(write_, dev, reg_index, value_place=None):
        s = u32(4 if write_ else 5) + u32(dev) + u32(1)  # function 0
        s += u8(1) + u32(reg_index) + u32(2)             # a listed register, dword
        if write_:
            s += (u8(1) + u8(value_place) + u32(0) + u32(0)) if value_place is not None else u8(0)
        return s
    serial = b''.join(port_write(0x3F8, c, 0) for c in b'hello')
    write('devices', 'serial', serial + port_read(0x3FD, 0))
    bars = b''
    for dev in range(1, 5):
        bars += cfg(False, dev, 1) + cfg(True, dev, 1) + cfg(False, dev, 1) + cfg(True, dev, 1, 4)
        bars += cfg(True, dev, 0, 0)
    write('devices', 'bars', bars + mmio_write(4, 0, 0x12345678, 2) + mmio_write(10, 0x80, 0xFF, 2))
    timers = port_write(0x43, 0x34, 0) + port_write(0x40, 0x10, 0) + port_write(0x40, 0, 0) + u32(6) + u32(100000)
    write('devices', 'timers', timers + take_interrupts(0) + mmio_write(9, 0x10, 3, 3) + u32(6) + u32(1 << 30) +
          take_interrupts(0))
    # The local APICs (place 10 = 0xFEE00000, each CPU's own window): software-enable both, a fixed IPI from CPU 0
    # to APIC 1 that CPU 1 takes and EOIs, CPU 1's periodic timer firing, then CPU 1 moves its window and goes
    # x2APIC, where its registers are MSRs (self-IPI through the x2APIC ICR).
    lapic = b''.join(mmio_write(10, 0xF0, 0x1FF, 2, cpu) + mmio_read(10, 0x20, 2, cpu) for cpu in (0, 1))
    lapic += mmio_write(10, 0x310, 1 << 24, 2, 0) + mmio_write(10, 0x300, 0x40, 2, 0) + take_interrupts(1)
    lapic += mmio_write(10, 0xB0, 0, 2, 1)
    lapic += mmio_write(10, 0x3E0, 0xB, 2, 1) + mmio_write(10, 0x320, 0x20050, 2, 1) + mmio_write(10, 0x380, 0x100, 2, 1)
    lapic += u32(6) + u32(100000) + take_interrupts(1) + mmio_read(10, 0x390, 2, 1)
    lapic += apic_base(1, 7, 0x800) + mmio_read(7, 0x30, 2, 1) + apic_base(1, 7, 0xC00)
    lapic += apic_msr(1, 0x802, 0, False) + apic_msr(1, 0x83F, 0x41, True) + take_interrupts(1)
    write('devices', 'lapic', lapic)


def gdb_seeds():
    def packet(p): return b'$' + p + b'#' + b'%02x' % (sum(p) & 0xFF)
    stream = b'+' + packet(b'qSupported:multiprocess+') + packet(b'm1000,40') + packet(b'M2000,4:deadbeef') + b'\x03'
    write('gdb', 'session', blob(stream[:20]) + blob(stream[20:]))
    write('gdb', 'bad_checksum', blob(b'$g#00' + packet(b'Z0,401000,1') + b'$vCont;c#a8'))


def qmp_seeds():
    write('qmp', 'session', b'{"execute": "qmp_capabilities"}\n{"execute": "query-status", "id": 1}\n'
          b'{"execute": "human-monitor-command", "arguments": {"command-line": "info registers"}, "id": "x"}\n')
    write('qmp', 'odd', b'unix:/tmp/qmp.sock,server,wait=off\n{"id": [1, {"a": null}], "execute": 3}\n[1,2\n')


def snapshot_seeds(build):
    """A snapshot the fuzz target's own machine saves (its configuration must match the loader's)."""
    exe = pathlib.Path(build) / 'tests/fuzz/fuzz_snapshot'
    if exe.exists():
        d = HERE / 'seeds' / 'snapshot'
        d.mkdir(parents=True, exist_ok=True)
        subprocess.run([exe, HERE / 'seeds' / 'gdb'], check=True, capture_output=True,
                       env={**os.environ, 'EMU64_FUZZ_SAVE_SNAPSHOT': str(d / 'saved.emu64snap')})


if __name__ == '__main__':
    cpu_seeds()
    loader_seeds(sys.argv[1] if len(sys.argv) > 1 else 'build')
    snapshot_seeds(sys.argv[1] if len(sys.argv) > 1 else 'build')
    virtio_seeds()
    devices_seeds()
    gdb_seeds()
    qmp_seeds()
