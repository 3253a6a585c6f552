// The control socket: one JSON line in, one JSON line out, over a real Unix socket.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>

#include "control/control_client.h"
#include "control/control_protocol.h"
#include "control/control_server.h"

namespace portwall {
namespace {

std::string temp_socket() {
  return (std::filesystem::temp_directory_path() / ("pw-ctl-" + std::to_string(getpid()) + ".sock"))
      .string();
}

TEST(ControlSocket, AnswersARequestWithTheHandlersResponse) {
  const std::string path = temp_socket();
  auto server = ControlServer::start(path, [](const nlohmann::json& r, const Peer& peer) {
    return ok_response({{"echo", r["command"]}, {"uid", peer.uid}});
  });
  ASSERT_TRUE(server) << server.error();
  auto reply = control_request(path, {{"command", "status"}});
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ((*reply)["ok"], true);
  EXPECT_EQ((*reply)["result"]["echo"], "status");
  EXPECT_EQ((*reply)["result"]["uid"], getuid());
}

TEST(ControlSocket, SocketFileIsGroupOnlyAndRemovedOnStop) {
  const std::string path = temp_socket();
  {
    auto server = ControlServer::start(
        path, [](const nlohmann::json&, const Peer&) { return ok_response({}); });
    ASSERT_TRUE(server);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(ControlSocket, RequestWithoutCommandIsRefusedWithCodeOne) {
  const std::string path = temp_socket();
  auto server = ControlServer::start(
      path, [](const nlohmann::json&, const Peer&) { return ok_response({}); });
  ASSERT_TRUE(server);
  auto reply = control_request(path, {{"verb", "status"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["ok"], false);
  EXPECT_EQ((*reply)["code"], kExitBadInput);
  EXPECT_EQ((*reply)["error"], "bad request: expected a JSON object with \"command\"");
}

TEST(ControlSocket, HandlerExceptionBecomesAnErrorNotACrash) {
  const std::string path = temp_socket();
  auto server =
      ControlServer::start(path, [](const nlohmann::json&, const Peer&) -> nlohmann::json {
        throw std::runtime_error("boom");
      });
  ASSERT_TRUE(server);
  auto reply = control_request(path, {{"command", "x"}});
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)["error"], "internal error: boom");
}

TEST(ControlSocket, UnreachableDaemonIsAFailureThatNamesTheSocket) {
  auto reply = control_request("/nonexistent/portwall.sock", {{"command", "status"}});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().message,
            "cannot connect to /nonexistent/portwall.sock (is portwalld running?): No such file "
            "or directory");
}

}  // namespace
}  // namespace portwall
