// config_error.h — an error in a configuration or rule file that an administrator can act on:
// where (file:line:column, 1-based; 0 when unknown) and what was expected.
#pragma once

#include <string>
#include <vector>

namespace portwall {

struct ConfigError {
  std::string file;
  int line = 0, column = 0;
  std::string message;  // "port must be 1-65535, got 70000"
};

// "rules.toml:4:8: port must be 1-65535, got 70000"
std::string to_string(const ConfigError& error);
std::string to_string(const std::vector<ConfigError>& errors);  // one per line

}  // namespace portwall
