#include "fs/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portwall {

FileStamp stamp_of(const struct stat& st) {
  auto ns = [](const timespec& t) { return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  return FileStamp{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                   static_cast<std::int64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}

std::optional<FileStamp> stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return stamp_of(st);
}

std::expected<FileText, std::string> read_file(const std::filesystem::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::unexpected(std::string(std::strerror(errno)));
  FileText file;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return std::unexpected(std::string(std::strerror(error)));
  }
  file.stamp = stamp_of(st);
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
    if (n == 0) break;
    file.text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  return file;
}

}  // namespace portwall
