// The status answer in Prometheus' text exposition format.
#include "metrics/prometheus_text.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace portwall {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

const nlohmann::json kStatus = nlohmann::json::parse(R"({
  "backend": "iptables", "mode": "enforce",
  "counters": {"received": 120, "accepted": 100, "dropped": 15, "rejected": 5, "malformed": 1,
               "uninspected": 7, "scan_blocks": 1, "scan_blocked": 3},
  "decisions": {"drop": {"default": 12, "invalid": 3}, "accept": {"state": 90, "rule": 10}},
  "rules": [{"number": 1, "action": "allow", "direction": "in", "proto": "tcp", "port": "22",
             "comment": "say \"hi\"\\now", "packets": 12, "bytes": 840}],
  "queue": {"length": 16384, "per_queue": [
    {"number": 100, "received": 70, "waiting": 2, "dropped_full": 0, "dropped_socket_full": 1,
     "lost_messages": 0},
    {"number": 101, "received": 50, "waiting": null, "dropped_full": null,
     "dropped_socket_full": null, "lost_messages": 0}]},
  "conntrack": {"entries": 3, "max": 262144, "evicted": 0, "refused": 0, "expired": 4,
                "picked_up": 0},
  "log": {"written": 20, "suppressed": 2, "lost": 0, "write_failed": 0, "reopened": 1,
          "audit_write_failed": 0}
})");

TEST(PrometheusText, CountersCarryTheirVerdictReasonAndQueueLabels) {
  const std::string text = render_prometheus(kStatus);
  EXPECT_TRUE(has_line(text, "# TYPE portwall_packets_total counter")) << text;
  EXPECT_TRUE(has_line(text, "portwall_packets_total{verdict=\"dropped\"} 15")) << text;
  EXPECT_TRUE(has_line(text, "portwall_decisions_total{verdict=\"drop\",reason=\"invalid\"} 3"));
  EXPECT_TRUE(has_line(text, "portwall_packets_uninspected_total 7"));
  EXPECT_TRUE(has_line(text, "portwall_queue_packets_received_total{queue=\"101\"} 50"));
  EXPECT_TRUE(has_line(text, "portwall_queue_dropped_total{queue=\"100\",cause=\"socket\"} 1"));
  EXPECT_TRUE(has_line(text, "portwall_conntrack_entries 3"));
  EXPECT_TRUE(has_line(text, "portwall_log_lines_suppressed_total 2"));
  EXPECT_TRUE(has_line(text, "portwall_info{backend=\"iptables\",mode=\"enforce\"} 1"));
}

TEST(PrometheusText, RuleLabelsAreEscaped) {
  const std::string text = render_prometheus(kStatus);
  EXPECT_TRUE(has_line(text,
                       "portwall_rule_packets_total{rule=\"1\",action=\"allow\",direction=\"in\","
                       "proto=\"tcp\",port=\"22\",comment=\"say \\\"hi\\\"\\\\now\"} 12"))
      << text;
  EXPECT_TRUE(has_line(text, "portwall_rules 1"));
}

TEST(PrometheusText, UnknownFiguresAreLeftOutNotZero) {
  const std::string text = render_prometheus(kStatus);
  EXPECT_EQ(text.find("portwall_queue_waiting_packets{queue=\"101\"}"), std::string::npos);
  EXPECT_TRUE(has_line(text, "portwall_queue_waiting_packets{queue=\"100\"} 2"));
  nlohmann::json unknown = kStatus;
  unknown["counters"]["uninspected"] = nullptr;
  EXPECT_EQ(render_prometheus(unknown).find("portwall_packets_uninspected_total"),
            std::string::npos);
}

TEST(PrometheusText, EveryFamilyHasOneHelpAndOneTypeAndEveryLineEnds) {
  const std::string text = render_prometheus(kStatus);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::istringstream lines(text);
  std::set<std::string> typed;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) {
      const std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(typed.insert(name).second) << "TYPE twice: " << name;
    }
  }
  EXPECT_GE(typed.size(), 20u);
}

}  // namespace
}  // namespace portwall
