// test_dir.h — a folder of its own for a test that reads or writes files: made under /tmp,
// removed with everything in it when the test ends.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace portwall {

class TestDir {
 public:
  TestDir() {
    std::string name = (std::filesystem::temp_directory_path() / "portwall-test-XXXXXX").string();
    if (mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp: cannot make a folder");
    path_ = name;
  }
  ~TestDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TestDir(const TestDir&) = delete;
  TestDir& operator=(const TestDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes `name` (below the folder) as a new file replacing any old one, as editors and
  // portwall do: a reader sees the old file or the new one, and the new one has a new inode.
  void write(const std::string& name, std::string_view text) const {
    const std::filesystem::path temp = path_ / (name + ".new");
    std::ofstream(temp, std::ios::binary) << text;
    std::filesystem::rename(temp, path_ / name);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace portwall
