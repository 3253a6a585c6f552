// The SSH lockout check: which rules would lock the administrator out when portwalld starts.
#include "exposure/ssh_lockout.h"

#include <gtest/gtest.h>

#include "rules/rule_loader.h"

namespace portwall {
namespace {

PolicySnapshot policy_of(const std::string& toml) {
  auto r = parse_rules(toml, "rules.toml");
  EXPECT_TRUE(r);
  return PolicySnapshot(r ? *r : RuleSet{});
}

IpAddress ip(const char* text) { return *parse_ip_address(text); }

ListeningSocket sshd_on(std::uint16_t port, const char* address = "0.0.0.0") {
  return {Proto::tcp, ip(address), port, 0, 1};
}

SshSession session(const char* from, std::uint16_t from_port, const char* to, std::uint16_t to_port,
                   const char* interface = "eth0") {
  return {{ip(to), to_port, ip(from), from_port, 2}, interface};
}

constexpr const char* kDefaultRules = R"(
[defaults]
incoming = "deny"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
)";

TEST(SshLockout, TheShippedRulesKeepSshOn22AndItsSessions) {
  const PolicySnapshot policy = policy_of(kDefaultRules);
  const LockoutCheck check = check_ssh_lockout(policy, {}, {sshd_on(22), sshd_on(22, "::")},
                                               {session("192.0.2.7", 50122, "192.0.2.1", 22)});
  EXPECT_TRUE(check.problems.empty());
  EXPECT_EQ(check.sessions, 1u);
  EXPECT_EQ(lockout_summary(check),
            "SSH stays reachable on 22/tcp (everyone); 1 open SSH session(s) go on");
}

TEST(SshLockout, SshdOnAnotherPortUnderDefaultDenyIsRefusedWithWhatToAllow) {
  const PolicySnapshot policy = policy_of(kDefaultRules);
  const LockoutCheck check = check_ssh_lockout(policy, {}, {sshd_on(2222)},
                                               {session("192.0.2.7", 50122, "192.0.2.1", 2222)});
  ASSERT_EQ(check.problems.size(), 2u);
  EXPECT_EQ(check.problems[0],
            "the SSH server listens on 2222/tcp (0.0.0.0), and nobody may reach it: no rule lets "
            "anyone in, so the default incoming policy decides");
  EXPECT_EQ(check.problems[1],
            "the SSH session from 192.0.2.7 port 50122 to 192.0.2.1 port 2222 would be cut: no "
            "rule matches, so the default incoming policy (deny) decides");
  EXPECT_EQ(check.unreachable_ports, std::vector<std::uint16_t>{2222});
  EXPECT_EQ(lockout_refusal(check, "portwall enable --force"),
            "these rules would lock SSH out:\n"
            "  - the SSH server listens on 2222/tcp (0.0.0.0), and nobody may reach it: no rule "
            "lets anyone in, so the default incoming policy decides\n"
            "  - the SSH session from 192.0.2.7 port 50122 to 192.0.2.1 port 2222 would be cut: "
            "no rule matches, so the default incoming policy (deny) decides\n"
            "Allow SSH first (portwall allow 2222/tcp), or start anyway with `portwall enable "
            "--force`");
}

TEST(SshLockout, OnePortBoundForBothFamiliesIsOneProblem) {
  const PolicySnapshot policy = policy_of(kDefaultRules);
  const LockoutCheck check =
      check_ssh_lockout(policy, {}, {sshd_on(2222), sshd_on(2222, "::")}, {});
  ASSERT_EQ(check.problems.size(), 1u);
  EXPECT_EQ(check.problems[0],
            "the SSH server listens on 2222/tcp (0.0.0.0 and ::), and nobody may reach it: no "
            "rule lets anyone in, so the default incoming policy decides");
}

TEST(SshLockout, ADenyRuleBeforeTheAllowIsNamed) {
  const PolicySnapshot policy = policy_of(R"(
[[rule]]
action = "reject"
proto = "tcp"
port = "22"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
)");
  const LockoutCheck check = check_ssh_lockout(policy, {}, {sshd_on(22)}, {});
  ASSERT_EQ(check.problems.size(), 1u);
  EXPECT_NE(check.problems[0].find("rule 1 refuses everyone"), std::string::npos)
      << check.problems[0];
}

TEST(SshLockout, OneReachablePortIsEnoughButEverySessionMustGoOn) {
  const PolicySnapshot policy = policy_of(kDefaultRules);
  // sshd on 22 and 2222; 22 stays open, so closing 2222 is a choice, not a lockout...
  EXPECT_TRUE(check_ssh_lockout(policy, {}, {sshd_on(22), sshd_on(2222)}, {}).problems.empty());
  // ... unless a session runs over 2222 right now.
  const LockoutCheck check = check_ssh_lockout(policy, {}, {sshd_on(22), sshd_on(2222)},
                                               {session("192.0.2.7", 40000, "192.0.2.1", 22),
                                                session("192.0.2.8", 40001, "192.0.2.1", 2222)});
  ASSERT_EQ(check.problems.size(), 1u);
  EXPECT_NE(check.problems[0].find("from 192.0.2.8 port 40001"), std::string::npos);
}

TEST(SshLockout, RulesForSomeSourcesOrInterfacesJudgeEachSessionByItsOwn) {
  const PolicySnapshot policy = policy_of(R"(
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
from = "10.0.0.0/8"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
interface = "wg0"
)");
  const LockoutCheck check =
      check_ssh_lockout(policy, {}, {sshd_on(22)},
                        {session("10.1.2.3", 40000, "192.0.2.1", 22),
                         session("198.51.100.9", 40001, "10.9.0.1", 22, "wg0"),
                         session("198.51.100.9", 40002, "192.0.2.1", 22, "eth0")});
  ASSERT_EQ(check.problems.size(), 1u);  // port 22 is open to some: not a lockout by itself
  EXPECT_NE(check.problems[0].find("port 40002"), std::string::npos) << check.problems[0];
  EXPECT_EQ(check.reachable, std::vector<std::string>{"22/tcp (some sources)"});
}

TEST(SshLockout, LoopbackListenersAndSessionsNeverMeetTheFirewall) {
  const PolicySnapshot policy = policy_of("[defaults]\nincoming = \"deny\"\n");
  const LockoutCheck check = check_ssh_lockout(
      policy, {}, {sshd_on(22, "127.0.0.1")}, {session("127.0.0.1", 40000, "127.0.0.1", 22, "lo")});
  EXPECT_TRUE(check.problems.empty());
  EXPECT_EQ(check.sessions, 0u);
  EXPECT_EQ(lockout_summary(check),
            "no SSH server listens outside loopback and no SSH session is open");
}

TEST(SshLockout, AKnockKeepsThePortReachableButNotTheSessionItLetIn) {
  const PolicySnapshot policy = policy_of("[defaults]\nincoming = \"deny\"\n");
  KnockSection knock;
  knock.name = "ssh";
  knock.sequence = {{6, 7000}, {6, 8000}};
  knock.open = {{6, 22}};
  const LockoutCheck check = check_ssh_lockout(policy, {knock}, {sshd_on(22)},
                                               {session("192.0.2.7", 50122, "192.0.2.1", 22)});
  ASSERT_EQ(check.problems.size(), 1u);  // the door is closed when portwalld starts
  EXPECT_NE(check.problems[0].find("session"), std::string::npos);
  EXPECT_EQ(check.reachable, std::vector<std::string>{"22/tcp (after a knock)"});
}

}  // namespace
}  // namespace portwall
