// memory_file_system.h — a FileSystem in memory for the loaders' tests: files and folders by
// absolute path, stamps that behave as the disk's (a write makes a new inode at the clock's
// time; a folder's stamp moves when an entry comes or goes), a clock moved by hand, no
// symlinks, and a count of the reads each file had.
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "fs/file_system.h"

namespace portwall {

class MemoryFileSystem final : public FileSystem {
 public:
  // `path` as a new file (a new inode, stamped now), its folders made.
  void write(const std::filesystem::path& path, std::string text, std::uint32_t mode = 0644) {
    const std::string key = normal(path);
    make_folder(std::filesystem::path(key).parent_path());
    const bool is_new = !files_.contains(key);
    files_[key] = File{std::move(text), stamp_now(mode)};
    files_[key].stamp.size = static_cast<std::int64_t>(files_[key].text.size());
    if (is_new) touch_folder(std::filesystem::path(key).parent_path());
  }
  void make_folder(const std::filesystem::path& path) {
    const std::string key = normal(path);
    if (folders_.contains(key)) return;
    if (key != "/") make_folder(std::filesystem::path(key).parent_path());
    folders_[key] = stamp_now(0755);
    if (key != "/") touch_folder(std::filesystem::path(key).parent_path());
  }
  void erase(const std::filesystem::path& path) {
    const std::string key = normal(path);
    if (files_.erase(key)) touch_folder(std::filesystem::path(key).parent_path());
  }
  void advance(std::chrono::nanoseconds d) { now_ns_ += d.count(); }
  int reads_of(const std::filesystem::path& path) const {
    auto it = reads_.find(normal(path));
    return it == reads_.end() ? 0 : it->second;
  }

  std::expected<FileText, std::string> read(const std::filesystem::path& path, bool regular_only,
                                            std::int64_t max_bytes,
                                            bool /*no_follow: no symlinks here*/) const override {
    const std::string key = normal(path);
    if (folders_.contains(key)) {
      return std::unexpected(std::string(regular_only ? "not a regular file" : "Is a directory"));
    }
    auto it = files_.find(key);
    if (it == files_.end()) return std::unexpected(std::string("No such file or directory"));
    if (it->second.stamp.size > max_bytes) {
      return std::unexpected("larger than " + std::to_string(max_bytes >> 20) + " MiB");
    }
    ++reads_[key];
    return FileText{it->second.text, it->second.stamp};
  }
  std::optional<FileStamp> stamp(const std::filesystem::path& path) const override {
    const std::string key = normal(path);
    if (auto it = files_.find(key); it != files_.end()) return it->second.stamp;
    if (auto it = folders_.find(key); it != folders_.end()) return it->second;
    return std::nullopt;
  }
  std::expected<std::filesystem::path, std::string> real_path(const std::filesystem::path& path,
                                                              bool must_exist) const override {
    const std::string key = normal(path);
    if (must_exist && !files_.contains(key) && !folders_.contains(key)) {
      return std::unexpected(std::string("No such file or directory"));
    }
    return std::filesystem::path(key);
  }
  std::optional<std::vector<std::string>> list(const std::filesystem::path& folder) const override {
    const std::string key = normal(folder);
    if (!folders_.contains(key)) return std::nullopt;
    std::set<std::string> names;
    auto add_child = [&](const std::string& path) {
      const std::filesystem::path p(path);
      if (p.parent_path() == key && path != key) names.insert(p.filename().string());
    };
    for (const auto& [path, file] : files_) add_child(path);
    for (const auto& [path, stamp] : folders_) add_child(path);
    return std::vector<std::string>(names.begin(), names.end());
  }
  std::expected<void, std::string> write_atomically(
      const std::filesystem::path& path, const std::string& text, FileStamp* written,
      std::optional<std::uint32_t> mode) const override {
    auto& self = const_cast<MemoryFileSystem&>(*this);  // a fake: writes are what it records
    const std::string key = normal(path);
    const std::string folder = std::filesystem::path(key).parent_path().string();
    if (!folders_.contains(folder)) {
      return std::unexpected("cannot create a temporary file in " + folder +
                             ": No such file or directory");
    }
    const auto old = files_.find(key);
    self.write(key, text, mode ? *mode : old == files_.end() ? 0644 : old->second.stamp.mode);
    if (written) *written = files_.at(key).stamp;
    return {};
  }
  std::expected<bool, std::string> remove(const std::filesystem::path& path) const override {
    auto& self = const_cast<MemoryFileSystem&>(*this);
    const bool there = files_.contains(normal(path));
    self.erase(path);
    return there;
  }
  std::int64_t now_ns() const override { return now_ns_; }

 private:
  struct File {
    std::string text;
    FileStamp stamp;
  };
  static std::string normal(const std::filesystem::path& path) {
    std::string text = (std::filesystem::path("/") / path).lexically_normal().string();
    while (text.size() > 1 && text.back() == '/') text.pop_back();
    return text;
  }
  FileStamp stamp_now(std::uint32_t mode) {
    FileStamp s;
    s.device = 1;
    s.inode = ++next_inode_;
    s.modified_ns = s.changed_ns = now_ns_;
    s.mode = mode;
    return s;
  }
  void touch_folder(const std::filesystem::path& folder) {
    auto it = folders_.find(normal(folder));
    if (it == folders_.end()) return;
    it->second.modified_ns = it->second.changed_ns = now_ns_;
    ++it->second.size;
  }

  std::map<std::string, File> files_;
  std::map<std::string, FileStamp> folders_{{"/", FileStamp{1, 1, 0, 0, 0, 0755}}};
  mutable std::map<std::string, int> reads_;
  std::int64_t now_ns_ = 1'796'083'200'000'000'000;  // 2026-12-01T00:00:00Z
  std::uint64_t next_inode_ = 1;
};

}  // namespace portwall
