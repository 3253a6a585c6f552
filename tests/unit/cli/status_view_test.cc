// `portwall status` as a person reads it: ufw's columns.
#include "cli/status_view.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

const nlohmann::json kStatus = nlohmann::json::parse(R"({
  "mode": "enforce", "defaults": {"incoming": "deny", "outgoing": "allow"},
  "backend": "iptables", "queues": [100], "rules_file": "/etc/portwall/rules.toml",
  "rules": [{"number": 1, "action": "allow", "direction": "in", "proto": "tcp",
             "from": "any", "to": "any", "port": "22", "comment": "ssh",
             "packets": 12, "bytes": 840},
            {"number": 2, "action": "deny", "direction": "in", "proto": "any",
             "from": "198.51.100.0/24", "to": "any", "port": "any", "comment": "",
             "packets": 0, "bytes": 0}],
  "conntrack": {"entries": 3, "max": 262144},
  "counters": {"accepted": 120, "dropped": 7, "rejected": 0, "uninspected": 0}})");

TEST(StatusView, NumberedListsRulesInUfwColumns) {
  EXPECT_EQ(render_status(kStatus, StatusStyle::numbered),
            "Status: active (enforce)\n"
            "\n"
            "     To                         Action      From\n"
            "     --                         ------      ----\n"
            "[ 1] 22/tcp                     ALLOW IN    Anywhere  # ssh\n"
            "[ 2] Anywhere                   DENY IN     198.51.100.0/24\n"
            "\n"
            "Connections: 3 of 262144\n"
            "Packets: 120 accepted, 7 dropped, 0 rejected, 0 uninspected\n");
}

TEST(StatusView, VerboseAddsDefaultsAndCounters) {
  const std::string text = render_status(kStatus, StatusStyle::verbose);
  EXPECT_NE(text.find("Default: deny (incoming), allow (outgoing)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(12 pkts, 840 bytes)"), std::string::npos) << text;
}

}  // namespace
}  // namespace portwall
