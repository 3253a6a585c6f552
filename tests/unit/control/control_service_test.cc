// ControlService with a fake firewall, a fake clock and a fake audit trail: who may ask what,
// the JSON shapes of status / blocked / explain, apply's confirmation window and its rollback,
// refused reloads and installs that keep the policy in force, and the cut of the connections a
// change denies. The same requests over a real socket and real traffic are the wire tests'.
#include "control/control_service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/log_event.h"
#include "control/control_protocol.h"
#include "fake_live_firewall.h"
#include "test_dir.h"
#include "test_packets.h"

namespace portwall {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;
using namespace portwall::test;

constexpr gid_t kAdminGid = 5000, kReadGid = 5001;
const Peer kRoot{.pid = 10, .uid = 0, .gid = 0, .groups = {}};
const Peer kAdmin{.pid = 11, .uid = 1001, .gid = 1001, .groups = {kAdminGid}};
const Peer kReader{.pid = 12, .uid = 1002, .gid = 1002, .groups = {kReadGid}};
const Peer kStranger{.pid = 13, .uid = 1003, .gid = 1003, .groups = {}};
const HookInfo kIn{Direction::in, "eth0", ""};
const HookInfo kOut{Direction::out, "", "eth0"};

class ControlServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_.set(Timestamp{} + seconds(1000));
    fs::create_directory(dir_ / "rules.d");
    dir_.write("portwall.toml", "[daemon]\nrules = \"" + rules_file() + "\"\nrules_dir = \"" +
                                    (dir_ / "rules.d").string() +
                                    "\"\n[defaults]\nincoming = \"deny\"\n");
    dir_.write("rules.toml", kSsh);
    start();
  }
  void start() {
    PolicyPaths paths{
        .config = (dir_ / "portwall.toml").string(), .rules_override = "", .socket_override = ""};
    auto loaded = load_policy_files(paths);
    ASSERT_TRUE(loaded) << loaded.error();
    sources_ = std::make_shared<SourceTable>();
    blocks_ = std::make_shared<BlockList>(16);
    live_ = std::make_unique<FakeLiveFirewall>(*loaded, sources_, blocks_, clock_);
    service_ = std::make_unique<ControlService>(
        ControlSetup{.live = *live_,
                     .audit = audit_,
                     .clock = clock_,
                     .say = [this](const std::string& line) { said_ += line + "\n"; },
                     .sources = sources_,
                     .blocks = blocks_,
                     .paths = paths,
                     .started = loaded->config,
                     .sources_in_force = std::move(loaded->sources),
                     .own_uid = 999,
                     .audit_uid = 998,
                     .admin_gid = kAdminGid,
                     .read_gid = kReadGid});
  }
  // Every change of policy told the service manager its start and its end.
  void TearDown() override {
    EXPECT_EQ(live_->reloads_begun, live_->reloads_ended);
    EXPECT_FALSE(live_->unbalanced);
  }
  std::string rules_file() const { return (dir_ / "rules.toml").string(); }
  std::string rules_text() const {
    std::ifstream in(rules_file());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  json ask(json request, const Peer& peer = kRoot) { return service_->handle(request, peer); }
  json change(std::vector<std::string> words, bool keep = false) {
    return ask({{"command", "change"}, {"words", words}, {"keep_established", keep}});
  }
  // A TCP connection 203.0.113.9:40000 -> 192.0.2.1:22 established through queue `queue`.
  void connect(std::size_t queue = 0) {
    Engine& e = live_->engine(queue);
    const Timestamp now = clock_.now();
    ASSERT_EQ(e.decide(orig(tcpflag::syn), kIn, now).verdict, Verdict::accept);
    ASSERT_EQ(e.decide(reply(tcpflag::syn | tcpflag::ack), kOut, now).verdict, Verdict::accept);
    ASSERT_EQ(e.decide(orig(tcpflag::ack), kIn, now).verdict, Verdict::accept);
  }
  Verdict next_packet(std::size_t queue = 0) {
    return live_->engine(queue).decide(orig(tcpflag::ack), kIn, clock_.now()).verdict;
  }

  static constexpr const char* kSsh =
      "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"22\"\n";
  TestDir dir_;
  FakeClock clock_;
  FakeAuditTrail audit_;
  std::string said_;
  std::shared_ptr<SourceTable> sources_;
  std::shared_ptr<BlockList> blocks_;
  std::unique_ptr<FakeLiveFirewall> live_;
  std::unique_ptr<ControlService> service_;
};

// --- Who may ask what ---------------------------------------------------------------------

TEST_F(ControlServiceTest, AStrangerIsRefusedEvenStatusAndTheRefusalIsAudited) {
  const json answer = ask({{"command", "status"}}, kStranger);
  EXPECT_EQ(answer["ok"], false);
  EXPECT_EQ(answer["code"], kExitUnauthorized);
  EXPECT_EQ(answer["error"],
            "not authorized: only root and the admin and read groups may use portwall's control "
            "socket");
  const FakeAuditTrail::Event denied = audit_.last("status");
  EXPECT_EQ(denied.uid, 1003);
  EXPECT_EQ(denied.result, "denied");
  EXPECT_EQ(denied.detail, "pid=13 {\"command\":\"status\"}");
}

TEST_F(ControlServiceTest, AReaderMayReadEverythingButChangeNothing) {
  for (const json& read :
       {json{{"command", "status"}}, json{{"command", "blocked"}, {"action", "list"}},
        json{{"command", "conntrack"}, {"action", "count"}},
        json{{"command", "conntrack"}, {"action", "list"}},
        json{{"command", "explain"}, {"words", {"tcp", "203.0.113.9:40000", "->", "192.0.2.1:22"}}},
        json{{"command", "ports"}, {"sockets", json::array()}}}) {
    EXPECT_EQ(ask(read, kReader)["ok"], true) << read.dump();
  }
  for (const json& write :
       {json{{"command", "reload"}}, json{{"command", "change"}, {"words", {"allow", "80"}}},
        json{{"command", "blocked"}, {"action", "add"}, {"address", "198.51.100.7"}},
        json{{"command", "blocked"}, {"action", "remove"}, {"address", "198.51.100.7"}},
        json{{"command", "conntrack"}, {"action", "flush"}},
        json{{"command", "mode"}, {"action", "monitor"}}, json{{"command", "apply"}, {"text", ""}},
        json{{"command", "confirm"}}}) {
    const json answer = ask(write, kReader);
    EXPECT_EQ(answer["code"], kExitUnauthorized) << write.dump();
    EXPECT_EQ(answer["error"],
              "not authorized: members of the read group may only read; changes need root or "
              "the admin group");
  }
  EXPECT_EQ(rules_text(), kSsh) << "nothing was written";
  EXPECT_EQ(blocks_->size(), 0u);
  EXPECT_EQ(live_->installs, 0);
}

TEST_F(ControlServiceTest, AdminGroupMembersAndPortwalldsOwnUserMayChange) {
  EXPECT_EQ(change({"allow", "80/tcp"})["ok"], true);
  const json by_admin =
      service_->handle({{"command", "change"}, {"words", {"allow", "443/tcp"}}}, kAdmin);
  EXPECT_EQ(by_admin["ok"], true) << by_admin.dump();
  const Peer own{.pid = 14, .uid = 999, .gid = 999, .groups = {}};
  EXPECT_EQ(service_->handle({{"command", "change"}, {"words", {"deny", "25/tcp"}}}, own)["ok"],
            true);
  EXPECT_EQ(live_->snapshot()->rule_set().rules.size(), 4u);
  EXPECT_EQ(audit_.last("change").uid, 999);
}

TEST_F(ControlServiceTest, AFieldOfTheWrongTypeIsBadInputAfterAuthorization) {
  EXPECT_EQ(ask({{"command", "blocked"}, {"action", 7}}, kStranger)["code"], kExitUnauthorized);
  const json answer = ask({{"command", "blocked"}, {"action", 7}});
  EXPECT_EQ(answer["code"], kExitBadInput);
  EXPECT_EQ(answer["error"], "bad request: \"action\" must be a string");
  EXPECT_EQ(ask({{"command", "reload"}, {"keep_established", "yes"}})["error"],
            "bad request: \"keep_established\" must be true or false");
}

// --- What the answers look like --------------------------------------------------------------

TEST_F(ControlServiceTest, StatusSumsEveryQueueAndDescribesTheRulesInForce) {
  connect(0);
  live_->engine(1).decide(tcp(kClient, 40001, kServer, 23, tcpflag::syn), kIn, clock_.now());
  const json answer = ask({{"command", "status"}});
  ASSERT_EQ(answer["ok"], true);
  const json& s = answer["result"];
  EXPECT_EQ(s["mode"], "enforce");
  EXPECT_EQ(s["mode_set_by"], "configuration");
  EXPECT_EQ(s["defaults"],
            (json{{"incoming", "deny"}, {"outgoing", "allow"}, {"routed", "disabled"}}));
  ASSERT_EQ(s["rules"].size(), 1u);
  EXPECT_EQ(s["rules"][0]["number"], 1);
  EXPECT_EQ(s["rules"][0]["action"], "allow");
  EXPECT_EQ(s["rules"][0]["proto"], "tcp");
  EXPECT_EQ(s["rules"][0]["port"], "22");
  EXPECT_EQ(s["rules"][0]["packets"], 1) << "the SYN that matched it";
  EXPECT_EQ(s["rules"][0]["origin"], rules_file() + ":1");
  EXPECT_EQ(s["counters"]["received"], 4);
  EXPECT_EQ(s["counters"]["accepted"], 3);
  EXPECT_EQ(s["counters"]["dropped"], 1);
  EXPECT_EQ(s["decisions"]["drop"]["default"], 1);
  EXPECT_EQ(s["conntrack"]["entries"], 1) << "the connection through queue 100";
  ASSERT_EQ(s["queue"]["per_queue"].size(), 2u);
  EXPECT_EQ(s["queue"]["per_queue"][1]["number"], 101);
  EXPECT_EQ(s["queue"]["per_queue"][1]["received"], 1);
  EXPECT_EQ(s["counters"]["uninspected"], 0);
  EXPECT_EQ(s["pending_confirmation"], nullptr);
  EXPECT_EQ(s["pending_enable"], nullptr);
  EXPECT_EQ(s["backend"], "fake");
  EXPECT_EQ(s["rules_file"], rules_file());
  for (const char* key : {"forwards", "forwarding_problem", "defenses", "log", "queues"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
}

TEST_F(ControlServiceTest, ABlockIsListedWithItsReasonAndItsExpiryOnTheWallClock) {
  const json added =
      ask({{"command", "blocked"}, {"action", "add"}, {"address", "198.51.100.7"}, {"for", "1h"}});
  ASSERT_EQ(added["ok"], true) << added.dump();
  // FakeClock: 1000 s after 2026-12-01T00:00:00Z, plus the hour.
  EXPECT_EQ(added["result"]["expires"], "2026-12-01T01:16:40.000Z");
  EXPECT_EQ(ask({{"command", "blocked"}, {"action", "add"}, {"address", "2001:db8::7"}})["ok"],
            true);
  const json list = ask({{"command", "blocked"}, {"action", "list"}});
  EXPECT_EQ(list["result"],
            (json{{{"address", "198.51.100.7"},
                   {"reason", "manual"},
                   {"expires", "2026-12-01T01:16:40.000Z"}},
                  {{"address", "2001:db8::7"}, {"reason", "manual"}, {"expires", "never"}}}));
  EXPECT_EQ(audit_.last("block").detail, "2001:db8::7");
  EXPECT_EQ(
      ask({{"command", "blocked"}, {"action", "add"}, {"address", "not-an-address"}})["error"],
      "blocked add needs an IPv4 or IPv6 address or network, got \"not-an-address\"");
}

TEST_F(ControlServiceTest, ExplainNamesTheRuleOrTheFlowThatDecides) {
  const json words = {"tcp", "203.0.113.9:40000", "->", "192.0.2.1:22"};
  json answer = ask({{"command", "explain"}, {"words", words}});
  ASSERT_EQ(answer["ok"], true) << answer.dump();
  EXPECT_EQ(answer["result"]["verdict"], "ACCEPT");
  EXPECT_EQ(answer["result"]["reason"], "rule");
  EXPECT_EQ(answer["result"]["rule"], 1);
  connect(1);
  answer = ask({{"command", "explain"}, {"words", words}});
  EXPECT_EQ(answer["result"]["reason"], "state") << "the flow queue 101 tracks";
  EXPECT_EQ(ask({{"command", "explain"}, {"words", {"tcp", "nowhere"}}})["ok"], false);
}

// B3: a flow cut by a change is dropped, and explain says so (not "ACCEPT by state").
TEST_F(ControlServiceTest, ExplainOfACutFlowSaysItIsDropped) {
  connect(0);
  ASSERT_EQ(change({"delete", "1"})["result"]["connections"]["cut"], 1);
  const json answer =
      ask({{"command", "explain"}, {"words", {"tcp", "203.0.113.9:40000", "->", "192.0.2.1:22"}}});
  EXPECT_EQ(answer["result"]["verdict"], "DROP") << answer.dump();
  EXPECT_EQ(next_packet(0), Verdict::drop);
}

// --- Changes, and the connections they cut ----------------------------------------------------

TEST_F(ControlServiceTest, AChangeThatDeniesAnEstablishedFlowCutsItAndEndsItsKernelEntry) {
  connect(1);
  const json answer = change({"insert", "1", "deny", "22/tcp"});
  ASSERT_EQ(answer["ok"], true) << answer.dump();
  EXPECT_EQ(answer["result"]["connections"],
            (json{{"cut", 1}, {"kept", 0}, {"restored", 0}, {"kernel_entries_ended", 1}}));
  ASSERT_EQ(live_->ended.size(), 1u);
  EXPECT_EQ(live_->ended[0].dst_port, 22);
  EXPECT_EQ(next_packet(1), Verdict::drop);
  EXPECT_NE(rules_text().find("action = 'deny'"), std::string::npos) << rules_text();
  EXPECT_EQ(audit_.last("connections").detail,
            "1 established connection(s) cut (kernel conntrack entries ended: 1) after the rules "
            "changed (change)");
  EXPECT_EQ(live_->offload_flushes, std::vector<std::string>{"reload"});
  // Deleting the deny restores the flow it cut.
  EXPECT_EQ(change({"delete", "1"})["result"]["connections"]["restored"], 1);
  EXPECT_EQ(next_packet(1), Verdict::accept);
}

TEST_F(ControlServiceTest, KeepEstablishedLeavesTheDeniedFlowsUp) {
  connect(0);
  const json answer = change({"delete", "1"}, /*keep=*/true);
  EXPECT_EQ(answer["result"]["connections"]["cut"], 0);
  EXPECT_EQ(answer["result"]["connections"]["kept"], 1);
  EXPECT_TRUE(live_->ended.empty());
  EXPECT_TRUE(live_->offload_flushes.empty()) << "offloaded connections stay offloaded";
  EXPECT_EQ(next_packet(0), Verdict::accept);
}

TEST_F(ControlServiceTest, MonitorModeCutsNothingAndEnforceCutsWhatTheRulesDeny) {
  ASSERT_EQ(ask({{"command", "mode"}, {"action", "monitor"}})["ok"], true);
  connect(0);
  EXPECT_EQ(change({"delete", "1"})["result"]["connections"]["cut"], 0);
  const json enforce = ask({{"command", "mode"}, {"action", "enforce"}});
  EXPECT_EQ(enforce["result"]["mode"], "enforce");
  EXPECT_EQ(enforce["result"]["mode_set_by"], "portwall mode");
  EXPECT_EQ(enforce["result"]["connections"]["cut"], 1);
  EXPECT_EQ(audit_.last("mode").detail, "pid=10 monitor -> enforce");
}

TEST_F(ControlServiceTest, AQueueThatDoesNotAnswerTheRecheckIsSaid) {
  live_->silent_queue = 1;
  ASSERT_EQ(change({"allow", "80/tcp"})["ok"], true);
  EXPECT_NE(said_.find("queue 101 did not answer the recheck within 2 s"), std::string::npos)
      << said_;
}

TEST_F(ControlServiceTest, AReloadInstallsTheFilesAsTheyAreNow) {
  dir_.write("rules.toml", std::string(kSsh) + "[[rule]]\naction = \"allow\"\nport = \"80\"\n");
  ASSERT_TRUE(service_->reload(0, "reload(SIGHUP)"));
  EXPECT_EQ(live_->snapshot()->rule_set().rules.size(), 2u);
  EXPECT_EQ(live_->reloads_begun, 1);
  EXPECT_EQ(audit_.last("reload(SIGHUP)").result, "ok");
  EXPECT_EQ(audit_.last("reload(SIGHUP)").detail, "2 rules from " + rules_file());
  const json answer = ask({{"command", "reload"}});
  EXPECT_EQ(answer["result"]["rule_count"], 2);
  EXPECT_FALSE(answer["result"].contains("rules")) << "the whole status only when asked";
  EXPECT_EQ(ask({{"command", "reload"}, {"status", true}})["result"]["rules"].size(), 2u);
}

TEST_F(ControlServiceTest, AModeSetByPortwallHoldsOverReloadsTheConfigurationsFollowsTheFile) {
  dir_.write("portwall.toml", "[daemon]\nrules = \"" + rules_file() + "\"\nmode = \"monitor\"\n");
  ASSERT_TRUE(service_->reload(0, "reload(SIGHUP)"));
  EXPECT_EQ(live_->mode(), Mode::monitor) << "the configuration's, reloaded";
  ASSERT_EQ(ask({{"command", "mode"}, {"action", "enforce"}})["ok"], true);
  ASSERT_TRUE(service_->reload(0, "reload(SIGHUP)"));
  EXPECT_EQ(live_->mode(), Mode::enforce) << "portwall mode's, over the configuration's";
  EXPECT_EQ(ask({{"command", "status"}})["result"]["mode_set_by"], "portwall mode");
}

TEST_F(ControlServiceTest, ABrokenRulesFileIsRefusedAtReloadAndTheRulesInForceStay) {
  const auto before = live_->snapshot();
  dir_.write("rules.toml", "[[rule]]\naction = \"allow\"\nport = \"70000\"\n");
  const json answer = ask({{"command", "reload"}});
  EXPECT_EQ(answer["ok"], false);
  EXPECT_EQ(answer["error"], "reload refused, the previous rules stay in force:\n" + rules_file() +
                                 ":3:8: port must be 1-65535, got 70000");
  EXPECT_EQ(live_->snapshot(), before);
  EXPECT_EQ(live_->installs, 0);
  EXPECT_EQ(audit_.last("reload").result, "refused");
  EXPECT_EQ(live_->reloads_begun, live_->reloads_ended) << "the service manager hears the end";
  // A rule change refuses too, rather than build on the broken file.
  EXPECT_EQ(change({"allow", "80/tcp"})["ok"], false);
}

TEST_F(ControlServiceTest, AnInstallTheKernelRefusesLeavesTheFileAndThePolicyAsTheyWere) {
  const auto before = live_->snapshot();
  live_->refuse_install = "the forwards' NAT rules were refused: no nat table";
  const json answer = change({"allow", "80/tcp"});
  EXPECT_EQ(answer["ok"], false);
  EXPECT_NE(answer["error"].get<std::string>().find("no nat table"), std::string::npos);
  EXPECT_EQ(rules_text(), kSsh) << "the file written is put back";
  EXPECT_EQ(live_->snapshot(), before);
  EXPECT_EQ(audit_.last("change").result, "refused");
  // Once the kernel takes it, the change is made from the files as they are.
  live_->refuse_install.clear();
  EXPECT_EQ(change({"allow", "80/tcp"})["ok"], true);
  EXPECT_EQ(live_->snapshot()->rule_set().rules.size(), 2u);
}

// --- apply with a confirmation window -----------------------------------------------------------

TEST_F(ControlServiceTest, AnApplyNotConfirmedInTimeRollsBackToThePreviousRules) {
  const std::string applied = "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"8080\"\n";
  const json answer =
      ask({{"command", "apply"}, {"file", "new.toml"}, {"text", applied}, {"confirm", "60s"}});
  ASSERT_EQ(answer["ok"], true) << answer.dump();
  EXPECT_EQ(answer["result"]["confirm_by"], "2026-12-01T00:17:40.000Z");
  EXPECT_EQ(rules_text(), applied);
  EXPECT_EQ(live_->snapshot()->rule_set().rules[0].port_text, "8080");
  EXPECT_TRUE(fs::exists(rules_file() + ".unconfirmed"));
  EXPECT_EQ(ask({{"command", "status"}})["result"]["pending_confirmation"]["seconds_left"], 60);
  // Other changes wait while it is pending.
  const json waiting = change({"allow", "80/tcp"});
  EXPECT_NE(waiting["error"].get<std::string>().find("waits for `portwall confirm`"),
            std::string::npos);

  clock_.advance(seconds(59));
  service_->keep_confirmation();
  EXPECT_EQ(rules_text(), applied) << "not yet";
  clock_.advance(seconds(1));
  service_->keep_confirmation();
  EXPECT_EQ(rules_text(), kSsh);
  EXPECT_EQ(live_->snapshot()->rule_set().rules[0].port_text, "22");
  EXPECT_FALSE(fs::exists(rules_file() + ".unconfirmed"));
  EXPECT_EQ(audit_.last("apply-rollback").result, "ok");
  EXPECT_EQ(audit_.last("apply-rollback").uid, 998) << "portwalld's own record";
  EXPECT_FALSE(service_->apply_pending());
  EXPECT_EQ(change({"allow", "80/tcp"})["ok"], true);
}

TEST_F(ControlServiceTest, AConfirmedApplyStays) {
  const std::string applied = "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"8080\"\n";
  ASSERT_EQ(ask({{"command", "apply"}, {"text", applied}, {"confirm", "60s"}})["ok"], true);
  const json confirmed = ask({{"command", "confirm"}}, kAdmin);
  EXPECT_EQ(confirmed["result"]["confirmed"], true);
  EXPECT_FALSE(fs::exists(rules_file() + ".unconfirmed"));
  clock_.advance(seconds(120));
  service_->keep_confirmation();
  EXPECT_EQ(rules_text(), applied);
  EXPECT_EQ(ask({{"command", "confirm"}})["error"],
            "nothing to confirm: no apply or enable is waiting");
}

TEST_F(ControlServiceTest, ABrokenApplyChangesNothing) {
  const json answer =
      ask({{"command", "apply"}, {"file", "bad.toml"}, {"text", "[[rule]]\nport = 1\n"}});
  EXPECT_EQ(answer["ok"], false);
  EXPECT_NE(answer["error"].get<std::string>().find("the rules are broken, nothing changed"),
            std::string::npos);
  EXPECT_EQ(rules_text(), kSsh);
  EXPECT_EQ(live_->installs, 0);
  EXPECT_EQ(audit_.last("apply").result, "refused");
}

TEST_F(ControlServiceTest, AnEnableNotConfirmedExpiresAndAConfirmedOneRemovesItsFile) {
  dir_.write("enable-confirm", "{}");
  service_->arm_enable(
      {clock_.now() + seconds(30), 0, "root", "30s", (dir_ / "enable-confirm").string()});
  EXPECT_EQ(ask({{"command", "status"}})["result"]["pending_enable"]["seconds_left"], 30);
  clock_.advance(seconds(29));
  EXPECT_FALSE(service_->enable_expired());
  const json confirmed = ask({{"command", "confirm"}});
  EXPECT_EQ(confirmed["result"]["enable"], true);
  EXPECT_FALSE(fs::exists(dir_ / "enable-confirm"));
  clock_.advance(seconds(10));
  EXPECT_FALSE(service_->enable_expired());

  service_->arm_enable({clock_.now() + seconds(30), 0, "root", "30s", ""});
  clock_.advance(seconds(30));
  const std::optional<PendingEnable> due = service_->enable_expired();
  ASSERT_TRUE(due);
  EXPECT_EQ(due->by, "root");
  EXPECT_FALSE(service_->enable_expired()) << "once";
}

}  // namespace
}  // namespace portwall
