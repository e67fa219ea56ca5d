#pragma once
// Reading the files the command line names (-kernel, -initrd, -bare) into memory. The command line only checked
// that they existed when it was parsed: the read itself can still fail (a file in /proc, a device, a file removed or
// replaced since), and that must end the run with a message, not an exception.
#include <string>
#include <vector>

#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::machine {

// The whole file, or a message naming the file and the reason ("cannot read /x: Is a directory").
Result<std::vector<u8>, std::string> ReadHostFile(const std::string& path);

}  // namespace emu::machine
