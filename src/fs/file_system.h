// file_system.h — the one file-system seam (FileSystem): a whole file read with its stamp, a
// file written atomically, a folder listed, a path resolved. The stamp is what stat(2) says
// that changes when a file's bytes may have (device, inode, size, modification and change times
// in nanoseconds, mode): a file replaced atomically gets a new inode; one written in place a new
// size or times. What was parsed from a file (10^5 rules, a 10^6-entry set file) is kept as long
// as the file has the stamp it had when it was read. FileSystem::disk() is the real one (as
// LevelDB's Env::Default()); tests give the loaders a MemoryFileSystem (memory_file_system.h).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace portwall {

struct FileStamp {
  std::uint64_t device = 0, inode = 0;
  std::int64_t size = 0, modified_ns = 0, changed_ns = 0;
  std::uint32_t mode = 0;  // the permission bits (07777)
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

// Replaces `path` with `text` atomically (a temporary file in the same folder, fsync, rename,
// fsync of the folder), keeping the mode of the file it replaces (else 0644); the error names
// the path and the step that failed. With `written`, the stamp of the file it wrote (through
// its descriptor, after the rename).
// `mode`: the new file's permission bits instead.
std::expected<void, std::string> write_file_atomically(
    const std::filesystem::path& path, const std::string& text, FileStamp* written = nullptr,
    std::optional<std::uint32_t> mode = std::nullopt);
// The whole of `path` (FIFOs too); the error names the path and why it could not be read.
std::expected<std::string, std::string> read_text_file(const std::filesystem::path& path);
// A one-line file's content (a key, an id) without the line ends an editor leaves after it:
// the daemon and the CLI read the same SPA key file and must agree on its bytes.
std::string without_line_end(std::string text);

// Every file the rules, set files and configuration come from is reached through one of these.
// Thread-safety: the disk's may be used from any thread; a MemoryFileSystem from one at a time.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The real file system (stateless; lives as long as the process).
  static const FileSystem& disk();

  // read_file()'s contract: the whole file with its stamp, at most `max_bytes`. `no_follow`:
  // a symlink at `path` is refused ("Too many levels of symbolic links"), as for a path that
  // was resolved and checked before (a set file): a link put there since leads nowhere else.
  virtual std::expected<FileText, std::string> read(const std::filesystem::path& path,
                                                    bool regular_only = true,
                                                    std::int64_t max_bytes = kMaxReadBytes,
                                                    bool no_follow = false) const = 0;
  // The stamp of `path` now (symlinks followed; a folder's moves when an entry is added or
  // removed), or none when it is not there.
  virtual std::optional<FileStamp> stamp(const std::filesystem::path& path) const = 0;
  // `path` absolute, its symlinks resolved; with `must_exist` false, a missing tail is kept as
  // written (std::filesystem::weakly_canonical). The error says why ("No such file ...").
  virtual std::expected<std::filesystem::path, std::string> real_path(
      const std::filesystem::path& path, bool must_exist = true) const = 0;
  // The names in folder `folder`, sorted; none when it is not a folder.
  virtual std::optional<std::vector<std::string>> list(
      const std::filesystem::path& folder) const = 0;
  // write_file_atomically()'s contract.
  virtual std::expected<void, std::string> write_atomically(
      const std::filesystem::path& path, const std::string& text, FileStamp* written = nullptr,
      std::optional<std::uint32_t> mode = std::nullopt) const = 0;
  // read_text_file()'s contract, through this file system.
  std::expected<std::string, std::string> read_text(const std::filesystem::path& path) const {
    auto file = read(path, false);
    if (!file) return std::unexpected("cannot read " + path.string() + ": " + file.error());
    return std::move(file->text);
  }
  // Removes file `path`: true, or false when it was not there.
  virtual std::expected<bool, std::string> remove(const std::filesystem::path& path) const = 0;
  // The wall clock file times come from, in nanoseconds (racy()).
  virtual std::int64_t now_ns() const = 0;
};

}  // namespace portwall
