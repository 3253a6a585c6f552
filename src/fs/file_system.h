// file_system.h — the file system as the rules see it: a whole file read with its stamp, and
// the stamp itself, what stat(2) says that changes when a file's bytes may have (device, inode,
// size, modification and change times in nanoseconds). A file replaced atomically gets a new
// inode; one written in place a new size or times. What was parsed from a file (10^5 rules, a
// 10^6-entry set file) is kept as long as the file has the stamp it had when it was read.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>

namespace portwall {

struct FileStamp {
  std::uint64_t device = 0, inode = 0;
  std::int64_t size = 0, modified_ns = 0, changed_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

FileStamp stamp_of(const struct stat& st);
// Whether a file with `stamp`, stamped at `stamped_ns` (wall_clock_ns() then), was changed so
// shortly before that another write in the same clock tick could leave the stamp as it is:
// file times advance in steps of a few milliseconds (the kernel's coarse clock).
bool racy(const FileStamp& stamp, std::int64_t stamped_ns);
std::int64_t wall_clock_ns();  // CLOCK_REALTIME, the clock file times come from
// The file's stamp now (symlinks followed), or none when it cannot be stat'ed (it is gone).
std::optional<FileStamp> stamp_of(const std::filesystem::path& path);

struct FileText {
  std::string text;
  FileStamp stamp;  // taken before the bytes were read: a later write shows as another stamp
                    // (one in the same clock tick may not: racy())
};
// The whole of `path`, at most kMaxReadBytes; the error says why it could not be read ("No such
// file or directory", "not a regular file"). `regular_only`: a FIFO or a device is refused (a
// file the daemon finds in a folder, which would block a reload or never end); without it, as
// for a file an administrator names (`portwall apply <(...)`), it is read to its end.
inline constexpr std::int64_t kMaxReadBytes = std::int64_t{256} << 20;
std::expected<FileText, std::string> read_file(const std::filesystem::path& path,
                                               bool regular_only = true);

}  // namespace portwall
