// The `ports` request a reader may send portwalld: its socket list is parsed without an
// exception whatever it holds, and what one request may cost is bounded.
#include "exposure/ports_report.h"

#include <gtest/gtest.h>

#include <string>

#include "rules/rule_loader.h"

namespace portwall {
namespace {

nlohmann::json ssh_socket() {
  return {{"proto", "tcp"},
          {"address", "0.0.0.0"},
          {"port", 22},
          {"uid", 0},
          {"owners", nlohmann::json::array({{{"pid", 812}, {"command", "sshd"}}})}};
}

TEST(PortsRequest, SocketsGoThereAndBackWhole) {
  const auto sockets = sockets_of(nlohmann::json::array({ssh_socket()}));
  ASSERT_TRUE(sockets);
  ASSERT_EQ(sockets->size(), 1u);
  EXPECT_EQ((*sockets)[0].socket.port, 22);
  ASSERT_EQ((*sockets)[0].owners.size(), 1u);
  EXPECT_EQ((*sockets)[0].owners[0].command, "sshd");
  EXPECT_EQ(sockets_json(*sockets).dump(), nlohmann::json::array({ssh_socket()}).dump());
}

TEST(PortsRequest, AMalformedListIsRefusedNeverThrown) {
  const nlohmann::json anything_wrong = {5, "x", nlohmann::json::object(), nullptr, -1, 1.5};
  for (const char* field : {"proto", "address", "owners"}) {
    for (const nlohmann::json& wrong : anything_wrong) {
      nlohmann::json s = ssh_socket();
      s[field] = wrong;
      EXPECT_FALSE(sockets_of(nlohmann::json::array({s}))) << field << " = " << wrong.dump();
    }
  }
  for (const nlohmann::json& wrong :
       {nlohmann::json("22"), nlohmann::json(-1), nlohmann::json(70000), nlohmann::json(22.5),
        nlohmann::json(nullptr)}) {
    nlohmann::json s = ssh_socket();
    s["port"] = wrong;
    EXPECT_FALSE(sockets_of(nlohmann::json::array({s}))) << "port = " << wrong.dump();
  }
  nlohmann::json owner_pid = ssh_socket();
  owner_pid["owners"][0]["pid"] = 1LL << 40;
  EXPECT_FALSE(sockets_of(nlohmann::json::array({owner_pid})));
  EXPECT_FALSE(sockets_of(nlohmann::json::object()));
  EXPECT_FALSE(sockets_of(nlohmann::json::array({5})));
}

TEST(PortsRequest, OneRequestHoldsAtMostItsBound) {
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < kMaxPortsSockets; ++i) list.push_back(ssh_socket());
  EXPECT_TRUE(sockets_of(list));
  list.push_back(ssh_socket());
  EXPECT_FALSE(sockets_of(list)) << "one more than kMaxPortsSockets";
  nlohmann::json crowded = ssh_socket();
  for (std::size_t i = 0; i < kMaxSocketOwners; ++i) crowded["owners"].push_back(crowded["owners"][0]);
  EXPECT_FALSE(sockets_of(nlohmann::json::array({crowded})));
}

TEST(PortsReport, SourceRestrictedRulesAreListedUpToTheirBound) {
  std::string text;
  for (int i = 1; i <= 40; ++i) {
    text += "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"22\"\nfrom = \"10.0." +
            std::to_string(i) + ".0/24\"\n";
  }
  const auto rules = parse_rules(text, "rules.toml");
  ASSERT_TRUE(rules);
  const std::vector<KnockSection> knocks;
  const auto sockets = sockets_of(nlohmann::json::array({ssh_socket()}));
  ASSERT_TRUE(sockets);
  const nlohmann::json report =
      ports_report(*sockets, {*rules, knocks, "rules.toml", "portwalld", {}}, std::nullopt);
  const nlohmann::json& ssh = report["listening"][0];
  EXPECT_EQ(ssh["reach"], "some sources");
  EXPECT_EQ(ssh["partial_rules"].size(), kMaxListedRules);
  EXPECT_NE(ssh["from"].get<std::string>().find(" and 8 more"), std::string::npos) << ssh["from"];
  EXPECT_EQ(report["policy_from"], "portwalld");
}

}  // namespace
}  // namespace portwall
