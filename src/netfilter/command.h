// command.h — runs a program (no shell) with optional standard input and collects its output.
// Used by the iptables backend, which has no supported library interface.
#pragma once

#include <string>
#include <vector>

namespace portwall {

struct CommandResult {
  int exit_code = -1;  // -1: could not be started or was killed
  std::string out, err;
  bool ok() const { return exit_code == 0; }
};

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input = {});

}  // namespace portwall
