#include "devices/platform/i8042.h"

#include <algorithm>

#include "emu/common/log.h"

namespace emu::devices {
namespace {

constexpr size_t kQueueLimit = 64;  // more than any command answer; excess bytes are dropped
constexpr u8 kKeyboardId[2] = {0xAB, 0x83};
constexpr u8 kKeyboardIdTranslated = 0x41;  // 0x83 through the 8042's set-2 -> set-1 translation

}  // namespace

I8042::I8042(IrqLine& irq1, IrqLine& irq12, std::function<void()> on_reset, std::function<void(bool)> on_a20)
    : irq1_(irq1),
      irq12_(irq12),
      on_reset_(std::move(on_reset)),
      on_a20_(std::move(on_a20)),
      data_port_(
          [this](u64, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              for (u8& byte : data) byte = ReadDataLocked();
          },
          [this](u64, std::span<const u8> data) {
              Action action = Action::None;
              {
                  std::lock_guard lock(mutex_);
                  for (u8 byte : data) {
                      const Action a = WriteDataLocked(byte);
                      if (a != Action::None) action = a;
                  }
              }
              Run(action);
          }),
      command_port_(
          [this](u64, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              std::fill(data.begin(), data.end(), ReadStatusLocked());
          },
          [this](u64, std::span<const u8> data) {
              Action action = Action::None;
              {
                  std::lock_guard lock(mutex_);
                  for (u8 byte : data) {
                      const Action a = WriteCommandLocked(byte);
                      if (a != Action::None) action = a;
                  }
              }
              Run(action);
          }) {
    Reset();
}

void I8042::Reset() {
    std::lock_guard lock(mutex_);
    state_ = I8042State{};
    UpdateIrqLocked();
}

I8042State I8042::SaveState() const {
    std::lock_guard lock(mutex_);
    return state_;
}

void I8042::RestoreState(const I8042State& state) {
    std::lock_guard lock(mutex_);
    state_ = state;
    UpdateIrqLocked();
}

void I8042::Run(Action action) {
    switch (action) {
    case Action::Reset:
        if (on_reset_) on_reset_();
        break;
    case Action::A20On:
    case Action::A20Off:
        if (on_a20_) on_a20_(action == Action::A20On);
        break;
    case Action::None: break;
    }
}

void I8042::KeyboardInput(std::span<const u8> set1_bytes) {
    std::lock_guard lock(mutex_);
    if (!state_.keyboard.enabled || (state_.ctr & i8042::kCtrKbdDisable)) return;
    for (const u8 byte : set1_bytes) QueueLocked(byte, false);
}

void I8042::QueueLocked(u8 value, bool aux) {
    if (state_.output.size() >= kQueueLimit) return;
    state_.output.push_back(I8042Byte{value, aux});
    UpdateIrqLocked();
}

void I8042::UpdateIrqLocked() {
    const bool full = !state_.output.empty();
    const bool aux = full && state_.output.front().aux;
    const bool irq1 = full && !aux && (state_.ctr & i8042::kCtrKbdInt);
    const bool irq12 = aux && (state_.ctr & i8042::kCtrAuxInt);
    if (irq1 != state_.irq1) irq1_.SetLevel(irq1);
    if (irq12 != state_.irq12) irq12_.SetLevel(irq12);
    state_.irq1 = irq1;
    state_.irq12 = irq12;
}

u8 I8042::ReadStatusLocked() const {
    u8 status = state_.status;
    if (!state_.output.empty()) {
        status |= i8042::kStatusObf;
        if (state_.output.front().aux) status |= i8042::kStatusAuxObf;
    }
    return status;
}

u8 I8042::ReadDataLocked() {
    if (state_.output.empty()) return last_data_;  // an empty buffer reads the last byte again
    last_data_ = state_.output.front().value;
    state_.output.pop_front();
    // Drop the lines so the next byte raises a fresh edge.
    if (state_.irq1) irq1_.Lower();
    if (state_.irq12) irq12_.Lower();
    state_.irq1 = state_.irq12 = false;
    UpdateIrqLocked();
    return last_data_;
}

I8042::Action I8042::WriteCommandLocked(u8 value) {
    state_.status |= i8042::kStatusCmd;
    state_.pending_command = 0;
    switch (value) {
    case i8042::kCmdReadCtr: QueueLocked(state_.ctr, false); break;
    case i8042::kCmdWriteCtr:
    case i8042::kCmdWriteOutput:
    case i8042::kCmdWriteKbdOutBuf:
    case i8042::kCmdWriteAuxOutBuf:
    case i8042::kCmdWriteAux: state_.pending_command = value; break;
    case i8042::kCmdAuxDisable: state_.ctr |= i8042::kCtrAuxDisable; break;
    case i8042::kCmdAuxEnable: state_.ctr &= ~i8042::kCtrAuxDisable; break;
    case i8042::kCmdAuxTest:
    case i8042::kCmdKbdTest: QueueLocked(i8042::kInterfaceTestOk, false); break;
    case i8042::kCmdSelfTest:
        state_.status |= i8042::kStatusSys;
        QueueLocked(i8042::kSelfTestOk, false);
        break;
    case i8042::kCmdKbdDisable: state_.ctr |= i8042::kCtrKbdDisable; break;
    case i8042::kCmdKbdEnable: state_.ctr &= ~i8042::kCtrKbdDisable; break;
    case i8042::kCmdReadInput: QueueLocked(0x80, false); break;  // keyboard not inhibited
    case i8042::kCmdReadOutput: QueueLocked(state_.output_port, false); break;
    case i8042::kCmdDisableA20: return WriteOutputPortLocked(state_.output_port & ~i8042::kOutA20);
    case i8042::kCmdEnableA20: return WriteOutputPortLocked(state_.output_port | i8042::kOutA20);
    default:
        if (value >= i8042::kCmdPulseFirst) {
            // Pulse the output-port lines whose bit is 0 in the low nibble; line 0 is the CPU reset.
            return (value & 1) ? Action::None : Action::Reset;
        }
        if (log::Enabled(log::Category::Unimp))
            log::Log(log::Category::Unimp, "i8042: controller command {:#04x} not implemented", value);
        break;
    }
    UpdateIrqLocked();
    return Action::None;
}

I8042::Action I8042::WriteOutputPortLocked(u8 value) {
    const u8 old = state_.output_port;
    state_.output_port = value;
    if (!(value & i8042::kOutReset)) return Action::Reset;
    if ((old ^ value) & i8042::kOutA20) return (value & i8042::kOutA20) ? Action::A20On : Action::A20Off;
    return Action::None;
}

I8042::Action I8042::WriteDataLocked(u8 value) {
    state_.status &= ~i8042::kStatusCmd;
    const u8 command = state_.pending_command;
    state_.pending_command = 0;
    switch (command) {
    case i8042::kCmdWriteCtr:
        state_.ctr = value;
        // The SYS bit of the command byte is mirrored in the status register.
        state_.status = static_cast<u8>((state_.status & ~i8042::kStatusSys) | (value & i8042::kCtrSys));
        UpdateIrqLocked();
        return Action::None;
    case i8042::kCmdWriteOutput: return WriteOutputPortLocked(value);
    case i8042::kCmdWriteKbdOutBuf: QueueLocked(value, false); return Action::None;
    case i8042::kCmdWriteAuxOutBuf: QueueLocked(value, true); return Action::None;
    case i8042::kCmdWriteAux:
        state_.ctr &= ~i8042::kCtrAuxDisable;  // talking to the mouse re-enables its port, as in QEMU
        MouseWriteLocked(value);
        return Action::None;
    default:
        state_.ctr &= ~i8042::kCtrKbdDisable;  // likewise for the keyboard
        KeyboardWriteLocked(value);
        return Action::None;
    }
}

void I8042::KeyboardWriteLocked(u8 value) {
    Ps2DeviceState& kbd = state_.keyboard;
    if (kbd.pending_command != 0) {
        const u8 command = kbd.pending_command;
        kbd.pending_command = 0;
        QueueLocked(i8042::kAck, false);
        if (command == i8042::kKbdScanSet) {
            if (value == 0) {
                QueueLocked(kbd.scan_set, false);
            } else if (value <= 3) {
                kbd.scan_set = value;
            }
        }
        return;  // LEDs and typematic rate have no host-visible effect
    }
    switch (value) {
    case i8042::kDevReset:
        kbd = Ps2DeviceState{};
        kbd.enabled = true;
        QueueLocked(i8042::kAck, false);
        QueueLocked(i8042::kBatOk, false);
        break;
    case i8042::kDevGetId:
        QueueLocked(i8042::kAck, false);
        QueueLocked(kKeyboardId[0], false);
        QueueLocked((state_.ctr & i8042::kCtrXlate) ? kKeyboardIdTranslated : kKeyboardId[1], false);
        break;
    case i8042::kDevEnable:
    case i8042::kDevDisable:
    case i8042::kDevSetDefaults:
        kbd.enabled = value != i8042::kDevDisable;
        QueueLocked(i8042::kAck, false);
        break;
    case i8042::kKbdSetLeds:
    case i8042::kDevSetRate:
    case i8042::kKbdScanSet:
        kbd.pending_command = value;
        QueueLocked(i8042::kAck, false);
        break;
    case i8042::kEcho: QueueLocked(i8042::kEcho, false); break;
    default:
        if (value >= 0xF7) {
            QueueLocked(i8042::kAck, false);  // set-3 key type commands: acknowledged, no effect
        } else {
            QueueLocked(i8042::kResend, false);  // unknown: ask the host to resend, as a real keyboard does
        }
        break;
    }
}

void I8042::MouseWriteLocked(u8 value) {
    Ps2DeviceState& mouse = state_.mouse;
    if (mouse.pending_command != 0) {
        if (mouse.pending_command == i8042::kDevSetRate) mouse.sample_rate = value;
        if (mouse.pending_command == i8042::kMouseSetResolution) mouse.resolution = value & 3;
        mouse.pending_command = 0;
        QueueLocked(i8042::kAck, true);
        return;
    }
    switch (value) {
    case i8042::kDevReset:
        mouse = Ps2DeviceState{};
        QueueLocked(i8042::kAck, true);
        QueueLocked(i8042::kBatOk, true);
        QueueLocked(0x00, true);  // device ID: standard PS/2 mouse
        break;
    case i8042::kDevGetId:
        QueueLocked(i8042::kAck, true);
        QueueLocked(0x00, true);
        break;
    case i8042::kDevSetRate:
    case i8042::kMouseSetResolution:
        mouse.pending_command = value;
        QueueLocked(i8042::kAck, true);
        break;
    case i8042::kMouseStatus:
        QueueLocked(i8042::kAck, true);
        QueueLocked(mouse.enabled ? 0x20 : 0x00, true);
        QueueLocked(mouse.resolution, true);
        QueueLocked(mouse.sample_rate, true);
        break;
    case i8042::kMouseReadData:
        QueueLocked(i8042::kAck, true);
        QueueLocked(0x08, true);  // a packet with no movement and no buttons
        QueueLocked(0x00, true);
        QueueLocked(0x00, true);
        break;
    case i8042::kDevEnable:
    case i8042::kDevDisable:
    case i8042::kDevSetDefaults:
        if (value == i8042::kDevSetDefaults) mouse = Ps2DeviceState{};
        mouse.enabled = value == i8042::kDevEnable;
        QueueLocked(i8042::kAck, true);
        break;
    default:
        QueueLocked(i8042::kAck, true);  // scaling, stream/remote/wrap modes: acknowledged, no effect
        break;
    }
}

}  // namespace emu::devices
