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

// A /proc/net table: its header, then `rows`. (Not `std::string(kHeader) + "..."`: GCC 12 warns
// about that concatenation with -Warray-bounds, wrongly.)
std::string with_header(std::string_view rows) {
  std::string table(kHeader);
  table.append(rows);
  return table;
}

TEST(HostSockets, EachListenerWithEveryProcessHoldingIt) {
  FakeProc proc;
  proc.file("net/tcp",
            with_header(
                "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
                "       0 1001 1 0 100 0 0 10 0\n"
                "   1: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
                "       0 1002 1 0 100 0 0 10 0\n"));
  proc.file("net/udp6", with_header(
                            " 1809: 00000000000000000000000000000000:14E9 "
                            "00000000000000000000000000000000:0000 07 00000000:00000000 "
                            "00:00000000 00000000   108        0 1003 2 0 0\n"));
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

// sshd on 2222 (v4) and 22 (v6), one session each; another service's connection and listener.
void record_ssh_host(const FakeProc& proc) {
  proc.file("net/tcp",
            with_header(
                "   0: 00000000:08AE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 "
                "       0 2001 1 0 100 0 0 10 0\n"
                "   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000    33 "
                "       0 2002 1 0 100 0 0 10 0\n"
                "   2: 0100C80A:08AE 0200C80A:C350 01 00000000:00000000 00:00000000 00000000     0 "
                "       0 2003 1 0 20 4 30 10 -1\n"
                "   3: 0100C80A:0050 0200C80A:C351 01 00000000:00000000 00:00000000 00000000    33 "
                "       0 2004 1 0 20 4 30 10 -1\n"));
  proc.file("net/tcp6",
            with_header(
                "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 "
                "0A 00000000:00000000 00:00000000 00000000     0        0 2005 1 0 100 0 0 10 0\n"));
  proc.fd(35, 3, "socket:[2001]", "sshd");
  proc.fd(35, 4, "socket:[2005]", "sshd");
  proc.fd(306, 4, "socket:[2003]", "sshd");  // the session's own sshd
  proc.fd(77, 6, "socket:[2002]", "nginx");
  proc.fd(78, 7, "socket:[2004]", "nginx");
}

TEST(HostSockets, SshServersListenersAndSessionsByTheirOwner) {
  FakeProc proc;
  record_ssh_host(proc);
  const auto ssh = read_ssh_sockets(proc.path());
  ASSERT_TRUE(ssh) << ssh.error();
  EXPECT_TRUE(ssh->server_running);
  EXPECT_TRUE(ssh->owners_read);
  ASSERT_EQ(ssh->listeners.size(), 2u);
  EXPECT_EQ(ssh->listeners[0].port, 2222);
  EXPECT_EQ(ssh->listeners[1].port, 22);
  EXPECT_EQ(to_string(ssh->listeners[1].address), "::");
  ASSERT_EQ(ssh->sessions.size(), 1u);
  EXPECT_EQ(to_string(ssh->sessions[0].remote), "10.200.0.2");
  EXPECT_EQ(ssh->sessions[0].remote_port, 50000);
  EXPECT_EQ(ssh->sessions[0].local_port, 2222);
}

TEST(HostSockets, WithoutSshdNothingIsSshAndUnreadableOwnersFallBackToPort22) {
  FakeProc proc;
  record_ssh_host(proc);
  fs::remove_all(fs::path(proc.path()) / "35");
  fs::remove_all(fs::path(proc.path()) / "306");
  const auto none = read_ssh_sockets(proc.path());
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->server_running);
  EXPECT_TRUE(none->listeners.empty() && none->sessions.empty());

  // sshd runs, but its fd links cannot be read (the kernel refuses readlink without
  // CAP_SYS_PTRACE; here a file that is no link fails readlink as well, even for root).
  proc.file("35/comm", "sshd\n");
  proc.file("35/fd/3", "");
  const auto guessed = read_ssh_sockets(proc.path());
  ASSERT_TRUE(guessed);
  EXPECT_TRUE(guessed->server_running);
  EXPECT_FALSE(guessed->owners_read);
  ASSERT_EQ(guessed->listeners.size(), 1u);
  EXPECT_EQ(guessed->listeners[0].port, 22);
}

}  // namespace
}  // namespace portwall
