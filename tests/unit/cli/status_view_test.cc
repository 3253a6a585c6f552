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

TEST(StatusView, QueueDropsAndLostLogLinesAreShownWhenThereAreAny) {
  nlohmann::json s = kStatus;
  s["queue"] = {{"dropped_full", 436}, {"dropped_socket_full", 0}};
  s["log"] = {{"lost", 2}, {"write_failed", 300}, {"audit_write_failed", 1}};
  const std::string text = render_status(s, StatusStyle::plain);
  EXPECT_NE(text.find("Packets: 120 accepted, 7 dropped, 0 rejected, 0 uninspected, 436 dropped "
                      "by a full queue\n"
                      "Log: 303 line(s) lost (2 writer behind, 301 refused by the disk)\n"),
            std::string::npos)
      << text;
}

TEST(StatusView, APendingConfirmationSaysWhenItRollsBack) {
  nlohmann::json s = kStatus;
  s["pending_confirmation"] = {{"file", "new.toml"},
                               {"applied_by", "alice"},
                               {"within", "60s"},
                               {"rolls_back_at", "2026-12-03T16:00:00.000Z"},
                               {"seconds_left", 42}};
  const std::string text = render_status(s, StatusStyle::plain);
  EXPECT_NE(text.find("Pending: the rules applied from new.toml by alice roll back in 42s "
                      "(2026-12-03T16:00:00.000Z) unless `portwall confirm`\n"),
            std::string::npos)
      << text;
  s["pending_confirmation"] = nullptr;
  EXPECT_EQ(render_status(s, StatusStyle::plain).find("Pending"), std::string::npos);
}

TEST(StatusView, WhatAChangeDidToEstablishedConnections) {
  EXPECT_EQ(
      render_connections({{"cut", 2}, {"kept", 0}, {"restored", 0}, {"kernel_entries_ended", 1}}),
      "Cut 2 established connection(s) now denied (kernel conntrack entries ended: 1)\n");
  EXPECT_EQ(render_connections({{"cut", 0}, {"kept", 3}, {"restored", 1}}),
            "Kept 3 established connection(s) now denied\nRestored 1 connection(s) cut earlier\n");
  EXPECT_EQ(render_connections({{"cut", 0}, {"kept", 0}, {"restored", 0}}), "");
  EXPECT_EQ(render_connections(nullptr), "");
}

TEST(StatusView, VerboseAddsDefaultsAndCounters) {
  const std::string text = render_status(kStatus, StatusStyle::verbose);
  EXPECT_NE(text.find("Default: deny (incoming), allow (outgoing), disabled (routed)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(12 pkts, 840 bytes)"), std::string::npos) << text;
  // Routed traffic judged: its default, as ufw says it.
  nlohmann::json judged = kStatus;
  judged["defaults"]["routed"] = "deny";
  EXPECT_NE(render_status(judged, StatusStyle::verbose)
                .find("Default: deny (incoming), allow (outgoing), deny (routed)\n"),
            std::string::npos);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(StatusView, VerboseShowsEachDefenseWithItsCounters) {
  const auto d = nlohmann::json::parse(R"({
    "scan": {"enabled": true, "sources_blocked": 2, "packets_dropped": 40},
    "blocks": {"entries": 1, "max": 65536, "evicted": 0},
    "sources": {"entries": 12, "max": 65536, "evicted": 3},
    "limits": {"rule_rate_drops": 4, "source_rate_drops": 0, "source_connection_drops": 1},
    "knock": {"doors": ["ssh", "spa"], "packets": 9, "opened": 1, "failed": 2,
              "spa_opened": 1, "spa_rejected": 1, "spa_replayed": 1, "connections_let_in": 2}})");
  EXPECT_EQ(render_defenses(d),
            "\nDefenses:\n"
            "  scan detection: on, 2 source(s) blocked, 40 packet(s) dropped\n"
            "  block list: 1 of 65536 (0 evicted)\n"
            "  sources tracked: 12 of 65536 (3 evicted)\n"
            "  limits: 4 dropped by limit rules, 0 by new_connections, 1 by "
            "max_connections_per_source\n"
            "  knocks (ssh, spa): 9 packet(s), 1 opened, 2 failed, SPA 1 opened, 1 rejected, 1 "
            "replayed; 2 connection(s) let in\n");
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(StatusView, VerboseSaysWhatTheKernelsSetOfBlocksHoldsAndDroppedOrWhyThereIsNone) {
  auto d = nlohmann::json::parse(R"({
    "scan": {}, "sources": {}, "limits": {}, "knock": {},
    "blocks": {"entries": 3, "max": 65536, "evicted": 0,
               "in_kernel": {"entries": 2, "packets_dropped": 4000, "problem": ""}}})");
  EXPECT_NE(render_defenses(d).find("  block list: 3 of 65536 (0 evicted)\n"
                                    "  in the kernel: 2 block(s), 4000 packet(s) dropped\n"),
            std::string::npos)
      << render_defenses(d);
  d["blocks"]["in_kernel"]["problem"] = "ipset create failed (-1)";
  EXPECT_NE(render_defenses(d).find("  in the kernel: none (ipset create failed (-1))\n"),
            std::string::npos)
      << render_defenses(d);
  d["blocks"]["in_kernel"] = nullptr;  // [daemon] kernel_blocks = false
  EXPECT_EQ(render_defenses(d).find("in the kernel"), std::string::npos);
}

}  // namespace
}  // namespace portwall
