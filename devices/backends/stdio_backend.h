#pragma once
// The emulator's terminal as a serial console, like QEMU's -nographic mux: guest output goes to stdout, stdin
// goes to the guest, and Ctrl-A is the escape key (Ctrl-A x quits, Ctrl-A c switches to the monitor and back,
// Ctrl-A h prints help, Ctrl-A Ctrl-A sends a Ctrl-A). When stdin is a tty it is put in raw mode (so Ctrl-C
// reaches the guest) and restored on destruction and at exit.
//
// Input is not read by a thread of its own: the machine's event loop polls InputFd() and calls OnReadable().
#include <functional>
#include <span>

#include "devices/backends/char_backend.h"

namespace emu::devices {

class StdioBackend final : public CharBackend {
public:
    static constexpr u8 kEscape = 0x01;  // Ctrl-A

    // input_fd/output_fd default to stdin/stdout; tests pass pipes.
    explicit StdioBackend(int input_fd = 0, int output_fd = 1);
    ~StdioBackend() override;
    StdioBackend(const StdioBackend&) = delete;
    StdioBackend& operator=(const StdioBackend&) = delete;

    void Write(std::span<const u8> bytes) override;

    // Called for Ctrl-A x and Ctrl-A c. Both run on the thread that feeds input.
    void SetQuitCallback(std::function<void()> callback) { on_quit_ = std::move(callback); }
    void SetMonitorCallback(std::function<void()> callback) { on_monitor_ = std::move(callback); }
    // With a monitor attached, Ctrl-A c also switches where input goes: to the guest or, until the next Ctrl-A c,
    // to `input` (escapes still work there). Runs on the thread that feeds input.
    void SetMonitorInput(std::function<void(std::span<const u8>)> input) { monitor_input_ = std::move(input); }

    int InputFd() const { return input_fd_; }
    // Reads what is available on InputFd() without blocking and processes it. Returns false at end of file
    // or on a read error, after which the event loop should stop polling the fd.
    bool OnReadable();
    // The escape-sequence filter applied to host input (public so it can be tested without a terminal).
    void ProcessInput(std::span<const u8> bytes);

private:
    void WriteAll(std::span<const u8> bytes);

    int input_fd_;
    int output_fd_;
    bool raw_mode_ = false;
    int saved_flags_ = -1;
    bool escape_pending_ = false;
    std::function<void()> on_quit_;
    std::function<void()> on_monitor_;
    std::function<void(std::span<const u8>)> monitor_input_;
    bool monitor_mode_ = false;
};

}  // namespace emu::devices
