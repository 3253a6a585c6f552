// The files portwall ships: the default rule set, the examples and the configuration are valid.
#include <gtest/gtest.h>

#include <filesystem>

#include "config/config.h"
#include "rules/rule_loader.h"

#ifndef PORTWALL_SOURCE_DIR
#define PORTWALL_SOURCE_DIR "."
#endif

namespace portwall {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = PORTWALL_SOURCE_DIR;

TEST(ShippedFiles, DefaultRulesLoad) {
  auto set = load_rules(kRoot / "rules/default.toml");
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_TRUE(set->has_defaults());
  EXPECT_EQ(set->defaults.incoming, Action::deny);
  EXPECT_EQ(set->defaults.outgoing, Action::allow);
}

TEST(ShippedFiles, DefaultRulesAllowOnlySshIn) {
  auto set = load_rules(kRoot / "rules/default.toml");
  ASSERT_TRUE(set) << to_string(set.error());
  ASSERT_EQ(set->rules.size(), 1u);
  const Rule& ssh = set->rules[0];
  EXPECT_EQ(ssh.action, Action::allow);
  EXPECT_EQ(ssh.direction, Direction::in);
  EXPECT_EQ(ssh.proto, Proto::tcp);
  EXPECT_EQ(ssh.port.ranges, (std::vector<PortRange>{{22, 22}}));
}

TEST(ShippedFiles, EveryExampleLoadsAndHasRules) {
  int examples = 0;
  for (const auto& entry : fs::directory_iterator(kRoot / "rules/examples")) {
    if (entry.path().extension() != ".toml") continue;
    ++examples;
    auto set = load_rules(entry.path());
    EXPECT_TRUE(set) << entry.path() << ": " << (set ? "" : to_string(set.error()));
    if (set) {
      EXPECT_FALSE(set->rules.empty()) << entry.path();
    }
  }
  EXPECT_GE(examples, 2) << "rules/examples holds the shipped examples";
}

TEST(ShippedFiles, ConfigurationLoads) {
  auto c = load_config(kRoot / "rules/portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->daemon.queues, (std::vector<std::uint16_t>{100, 101}));
  EXPECT_EQ(c->daemon.rules, "/etc/portwall/rules.toml");
  EXPECT_EQ(c->scan_detection.distinct_ports, 10u);
  EXPECT_EQ(c->scan_detection.block, std::chrono::minutes(10));
}

}  // namespace
}  // namespace portwall
