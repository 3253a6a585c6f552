// test_words.h — a command line split into words, as a shell would for simple input.
#pragma once

#include <sstream>
#include <string>
#include <vector>

namespace portwall::test {

inline std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

}  // namespace portwall::test
