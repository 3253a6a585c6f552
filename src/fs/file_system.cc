#include "fs/file_system.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace portwall {

FileStamp stamp_of(const struct stat& st) {
  auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  return FileStamp{static_cast<std::uint64_t>(st.st_dev),
                   static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::int64_t>(st.st_size),
                   ns(st.st_mtim),
                   ns(st.st_ctim),
                   static_cast<std::uint32_t>(st.st_mode & 07777)};
}

bool racy(const FileStamp& stamp, std::int64_t stamped_ns) {
  constexpr std::int64_t kTick = 20'000'000;  // 20 ms: above the 4 ms (HZ=250) and 10 ms (HZ=100)
  return std::max(stamp.modified_ns, stamp.changed_ns) >= stamped_ns - kTick;
}

std::int64_t wall_clock_ns() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

std::optional<FileStamp> stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return stamp_of(st);
}

namespace {

std::expected<FileText, std::string> read_at_most(const std::filesystem::path& path,
                                                  bool regular_only, std::int64_t max_bytes,
                                                  bool no_follow = false) {
  const int fd =
      open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0) |
                             (no_follow ? O_NOFOLLOW : 0));
  if (fd < 0) return std::unexpected(std::string(std::strerror(errno)));
  FileText file;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return std::unexpected(std::string(std::strerror(error)));
  }
  file.stamp = stamp_of(st);
  // A FIFO or a device named like a rules file would block the reader or never end.
  const char* problem = regular_only && !S_ISREG(st.st_mode) ? "not a regular file" : nullptr;
  if (problem) {
    close(fd);
    return std::unexpected(std::string(problem));
  }
  if (st.st_size > max_bytes) {
    close(fd);
    return std::unexpected("larger than " + std::to_string(max_bytes >> 20) + " MiB");
  }
  if (S_ISREG(st.st_mode)) file.text.reserve(static_cast<std::size_t>(st.st_size));
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return std::unexpected(std::string(std::strerror(error)));
    }
    if (n == 0 ||
        file.text.size() + static_cast<std::size_t>(n) > static_cast<std::size_t>(max_bytes)) {
      break;
    }
    file.text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return file;
}

}  // namespace

std::expected<FileText, std::string> read_file(const std::filesystem::path& path,
                                               bool regular_only) {
  return read_at_most(path, regular_only, kMaxReadBytes);
}

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

class DiskFileSystem final : public FileSystem {
 public:
  std::expected<FileText, std::string> read(const std::filesystem::path& path, bool regular_only,
                                            std::int64_t max_bytes, bool no_follow) const override {
    return read_at_most(path, regular_only, max_bytes, no_follow);
  }
  std::optional<FileStamp> stamp(const std::filesystem::path& path) const override {
    return stamp_of(path);
  }
  std::expected<std::filesystem::path, std::string> real_path(const std::filesystem::path& path,
                                                              bool must_exist) const override {
    std::error_code ec;
    std::filesystem::path real = must_exist ? std::filesystem::canonical(path, ec)
                                            : std::filesystem::weakly_canonical(path, ec);
    if (ec) return std::unexpected(ec.message());
    return real;
  }
  std::optional<std::vector<std::string>> list(const std::filesystem::path& folder) const override {
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) return std::nullopt;
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::expected<void, std::string> write_atomically(
      const std::filesystem::path& path, const std::string& text, FileStamp* written,
      std::optional<std::uint32_t> mode) const override {
    return write_file_atomically(path, text, written, mode);
  }
  std::expected<bool, std::string> remove(const std::filesystem::path& path) const override {
    if (unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    return std::unexpected(errno_text("cannot remove " + path.string()));
  }
  std::int64_t now_ns() const override { return wall_clock_ns(); }
};

}  // namespace

const FileSystem& FileSystem::disk() {
  static const DiskFileSystem disk;  // stateless: no state shared between its users
  return disk;
}

std::expected<std::string, std::string> read_text_file(const std::filesystem::path& path) {
  return FileSystem::disk().read_text(path);
}

std::string without_line_end(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::expected<void, std::string> write_file_atomically(const std::filesystem::path& path,
                                                       const std::string& text, FileStamp* written,
                                                       std::optional<std::uint32_t> wanted) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string temp = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = mkstemp(temp.data());
  if (fd < 0)
    return std::unexpected(errno_text("cannot create a temporary file in " + dir.string()));
  auto fail = [&](const std::string& what) {
    const std::string message = errno_text(what);
    close(fd);
    unlink(temp.c_str());
    return std::unexpected(message);
  };
  struct stat st {};
  const mode_t mode = wanted                         ? static_cast<mode_t>(*wanted & 07777)
                      : stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777)
                                                     : 0644;
  if (fchmod(fd, mode) != 0) return fail("cannot set the mode of " + temp);
  for (std::size_t done = 0; done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write " + temp);
    done += static_cast<std::size_t>(n);
  }
  if (fsync(fd) != 0) return fail("cannot sync " + temp);
  if (rename(temp.c_str(), path.c_str()) != 0) return fail("cannot replace " + path.string());
  // The stamp of the file written, through its descriptor: whatever happens to the name since.
  if (written && fstat(fd, &st) == 0) *written = stamp_of(st);
  close(fd);  // written and synced: a failure to close loses nothing
  // The rename itself must reach the disk too.
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return {};
}

}  // namespace portwall
