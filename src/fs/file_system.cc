#include "fs/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace portwall {

FileStamp stamp_of(const struct stat& st) {
  auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  return FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
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

std::expected<FileText, std::string> read_file(const std::filesystem::path& path,
                                               bool regular_only) {
  const int fd =
      open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular_only ? O_NONBLOCK : 0));
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
  const char* problem = regular_only && !S_ISREG(st.st_mode) ? "not a regular file"
                        : st.st_size > kMaxReadBytes              ? "larger than 256 MiB"
                                                                  : nullptr;
  if (problem) {
    close(fd);
    return std::unexpected(std::string(problem));
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
    if (n == 0 || file.text.size() + static_cast<std::size_t>(n) > kMaxReadBytes) break;
    file.text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return file;
}

}  // namespace portwall
