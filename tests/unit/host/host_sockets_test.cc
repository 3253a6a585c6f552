// Listening sockets and their owners from a recorded /proc tree (files and fd links as the
// kernel shows them), so that the test needs no listener and no root.
#include "host/host_sockets.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace portwall {
namespace {

namespace fs = std::filesystem;

class FakeProc {
 public:
  FakeProc() {
    char templ[] = "/tmp/pw-fakeproc.XXXXXX";
    root_ = mkdtemp(templ);
  }
  ~FakeProc() { fs::remove_all(root_); }
  void file(const std::string& path, const std::string& text) const {
    fs::create_directories(fs::path(root_ / path).parent_path());
    std::ofstream(root_ / path) << text;
  }
  void fd(int pid, int number, const std::string& target, const std::string& comm) const {
    fs::create_directories(root_ / std::to_string(pid) / "fd");
    file(std::to_string(pid) + "/comm", comm + "\n");
    fs::create_symlink(target, root_ / std::to_string(pid) / "fd" / std::to_string(number));
  }
  std::string path() const { return root_.string(); }

 private:
  fs::path root_;
};

constexpr const char* kHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";

TEST(HostSockets, EachListenerWithEveryProcessHoldingIt) {
  FakeProc proc;
  proc.file("net/tcp",
            std::string(kHeader) +
                "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
                "       0 1001 1 0 100 0 0 10 0\n"
                "   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
                "       0 1002 1 0 100 0 0 10 0\n");
  proc.file("net/udp6", std::string(kHeader) +
                            " 1809: 00000000000000000000000000000000:14E9 "
                            "00000000000000000000000000000000:0000 07 00000000:00000000 "
                            "00:00000000 00000000   108        0 1003 2 0 0\n");
  proc.fd(812, 3, "socket:[1001]", "sshd");
  proc.fd(812, 4, "/dev/null", "sshd");
  proc.fd(4711, 3, "socket:[1001]", "sshd");  // a forked child holds the same socket
  proc.fd(900, 7, "socket:[1003]", "avahi-daemon");
  proc.fd(901, 5, "socket:[99]", "other");  // a socket that does not listen
  proc.file("self/comm", "portwall\n");     // not a pid: skipped

  const auto sockets = read_host_sockets(proc.path());
  ASSERT_TRUE(sockets) << sockets.error();
  ASSERT_EQ(sockets->size(), 3u);
  const HostSocket& ssh = (*sockets)[0];
  EXPECT_EQ(ssh.socket.port, 22);
  ASSERT_EQ(ssh.owners.size(), 2u);
  EXPECT_EQ(ssh.owners[0], (SocketOwner{812, "sshd"}));  // by pid
  EXPECT_EQ(ssh.owners[1], (SocketOwner{4711, "sshd"}));
  EXPECT_TRUE((*sockets)[1].owners.empty());  // nobody we could see (another user's process)
  EXPECT_EQ((*sockets)[2].socket.proto, Proto::udp);
  EXPECT_EQ((*sockets)[2].socket.uid, 108u);
  ASSERT_EQ((*sockets)[2].owners.size(), 1u);
  EXPECT_EQ((*sockets)[2].owners[0], (SocketOwner{900, "avahi-daemon"}));
}

TEST(HostSockets, NoSocketTableIsAnErrorTheEphemeralRangeIsRead) {
  FakeProc proc;
  const auto none = read_host_sockets(proc.path());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().find("/net/tcp"), std::string::npos);
  EXPECT_FALSE(read_ephemeral_range(proc.path()));
  proc.file("sys/net/ipv4/ip_local_port_range", "32768\t60999\n");
  const auto range = read_ephemeral_range(proc.path());
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 32768);
  EXPECT_EQ(range->last, 60999);
}

}  // namespace
}  // namespace portwall
