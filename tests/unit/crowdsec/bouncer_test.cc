// The bouncer and the source against a scripted Local API: the stream's startup and deltas, an
// unreachable or refusing LAPI (blocks stay, back-off, figures), and alerts pushed for scan
// blocks with a login, a token that expires and failures kept for the next round.
#include "crowdsec/bouncer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "crowdsec/alert_source.h"
#include "crowdsec/fake_http.h"

namespace portwall {
namespace {

using std::chrono::seconds;

struct Trail final : AuditTrail {
  std::vector<std::string> lines;
  void record(long, const std::string& action, const std::string& result,
              const std::string& detail) override {
    lines.push_back(action + " " + result + " " + detail);
  }
  std::uint64_t failed_lines() const override { return 0; }
};

CrowdSecSection config() {
  CrowdSecSection c;
  c.lapi_url = "http://10.200.9.1:8080/";
  c.api_key = "s3cr3t-bouncer-key";
  c.interval = seconds(10);
  return c;
}

HttpAnswer ok(std::string body) { return {200, std::move(body)}; }

struct BouncerTest : ::testing::Test {
  FakeClock clock;
  BlockList blocks;
  FakeHttp http;
  Trail trail;
  std::vector<std::string> said;
  Bouncer bouncer{config(), blocks, http,
                  clock,    trail,  [this](const std::string& s) { said.push_back(s); }};
};

TEST_F(BouncerTest, PullsTheWholeStateFirstThenTheChangesWithItsKey) {
  http.answer = [](const FakeHttp::Request& r) -> std::expected<HttpAnswer, std::string> {
    if (r.url.find("startup=true") != std::string::npos) {
      return ok(
          R"({"deleted":null,"new":[{"duration":"2m","id":1,"origin":"cscli",)"
          R"("scenario":"manual 'ban' from 'cli'","scope":"Ip","type":"ban","value":"192.0.2.7"}]})");
    }
    return ok(
        R"({"deleted":[{"duration":"-1s","id":1,"scope":"Ip","type":"ban","value":"192.0.2.7"}],"new":null})");
  };
  EXPECT_EQ(bouncer.pull(), seconds(10));
  ASSERT_EQ(http.requests.size(), 1u);
  EXPECT_EQ(http.requests[0].url,
            "http://10.200.9.1:8080/v1/decisions/stream?startup=true&scopes=ip,range");
  EXPECT_NE(std::find(http.requests[0].headers.begin(), http.requests[0].headers.end(),
                      "X-Api-Key: s3cr3t-bouncer-key"),
            http.requests[0].headers.end());
  EXPECT_TRUE(blocks.contains(*parse_ip_address("192.0.2.7"), clock.now()));
  BouncerFigures f = bouncer.figures();
  EXPECT_EQ(f.pulls, 1u);
  EXPECT_EQ(f.blocks, 1u);
  EXPECT_EQ(f.last_pull_unix_ms, clock.unix_ms());
  ASSERT_EQ(trail.lines.size(), 1u);
  EXPECT_EQ(trail.lines[0].rfind("crowdsec ok full pull: +1 -0 block(s), 1 in force", 0), 0u)
      << trail.lines[0];
  clock.advance(seconds(10));
  bouncer.pull();
  EXPECT_EQ(http.requests[1].url, "http://10.200.9.1:8080/v1/decisions/stream?scopes=ip,range");
  EXPECT_FALSE(blocks.contains(*parse_ip_address("192.0.2.7"), clock.now()));
  for (const auto& line : trail.lines) {
    EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << "the key is never logged";
  }
}

TEST_F(BouncerTest, AFullPullComesAgainEveryFullPullEveryAndMendsWhatTheChangesMissed) {
  int full = 0;
  http.answer = [&](const FakeHttp::Request& r) -> std::expected<HttpAnswer, std::string> {
    if (r.url.find("startup=true") == std::string::npos) return ok(R"({"new":null})");
    // The second full pull holds a decision no change ever carried.
    return ok(++full == 1 ? R"({"new":null})"
                          : R"({"new":[{"duration":"1h","id":9,"scenario":"s","scope":"Ip",)"
                            R"("type":"ban","value":"192.0.2.99"}]})");
  };
  bouncer.pull();
  for (int i = 0; i < 59; ++i) {
    clock.advance(seconds(10));
    bouncer.pull();
  }
  EXPECT_EQ(full, 1) << "every 10 minutes by default";
  EXPECT_FALSE(blocks.contains(*parse_ip_address("192.0.2.99"), clock.now()));
  clock.advance(seconds(10));
  bouncer.pull();
  EXPECT_EQ(full, 2);
  EXPECT_TRUE(blocks.contains(*parse_ip_address("192.0.2.99"), clock.now()));
}

TEST_F(BouncerTest, ARangeHoldingTheLapiDoesNotCutTheBouncerOff) {
  http.answer = [](const FakeHttp::Request&) -> std::expected<HttpAnswer, std::string> {
    return HttpAnswer{
        200,
        R"({"new":[{"duration":"4h","id":1,"scenario":"s","scope":"Range","type":"ban",)"
        R"("value":"10.200.9.0/24"}]})",
        "10.200.9.1"};
  };
  bouncer.pull();
  BlockList::Reader packets(blocks);  // as the queue threads ask
  EXPECT_FALSE(packets.contains(*parse_ip_address("10.200.9.1"), clock.now()));
  EXPECT_TRUE(packets.contains(*parse_ip_address("10.200.9.2"), clock.now()));
}

TEST_F(BouncerTest, AHostileAnswerIsShownWithoutItsControlCharacters) {
  http.answer = [](const FakeHttp::Request&) -> std::expected<HttpAnswer, std::string> {
    return HttpAnswer{500, "oops\nportwalld: forged line\r\x1b[2J"};
  };
  bouncer.pull();
  EXPECT_EQ(bouncer.figures().last_error,
            "http://10.200.9.1:8080/ answered HTTP 500: oops?portwalld: forged line??[2J");
  for (const std::string& line : said) EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST_F(BouncerTest, AnUnreachableLapiKeepsTheBlocksBacksOffAndSaysItOnce) {
  http.answer = [](const FakeHttp::Request&) -> std::expected<HttpAnswer, std::string> {
    return ok(
        R"({"new":[{"duration":"4h","id":1,"scenario":"s","scope":"Ip","type":"ban","value":"192.0.2.7"}]})");
  };
  bouncer.pull();
  http.answer = nullptr;  // the LAPI is down
  std::vector<Duration> waits;
  for (int i = 0; i < 6; ++i) {
    clock.advance(seconds(10));
    waits.push_back(bouncer.pull());
  }
  EXPECT_EQ(waits, (std::vector<Duration>{seconds(10), seconds(20), seconds(40), seconds(60),
                                          seconds(60), seconds(60)}));
  EXPECT_TRUE(blocks.contains(*parse_ip_address("192.0.2.7"), clock.now()))
      << "the last good pull's blocks stay in force";
  BouncerFigures f = bouncer.figures();
  EXPECT_EQ(f.failures, 6u);
  EXPECT_EQ(f.failing_in_a_row, 6u);
  EXPECT_EQ(f.last_error, "cannot reach http://10.200.9.1:8080/: Couldn't connect to server");
  EXPECT_EQ(clock.unix_ms() - f.last_pull_unix_ms, 60000) << "the lag";
  EXPECT_EQ(said.size(), 1u) << "said when it began, not at every retry";
  // Back: the whole state again, since the LAPI may have counted as pulled changes we lost;
  // what it no longer holds is lifted.
  http.answer = [](const FakeHttp::Request&) -> std::expected<HttpAnswer, std::string> {
    return ok(R"({"new":null,"deleted":null})");
  };
  EXPECT_EQ(bouncer.pull(), seconds(10));
  EXPECT_NE(http.requests.back().url.find("startup=true"), std::string::npos);
  EXPECT_FALSE(blocks.contains(*parse_ip_address("192.0.2.7"), clock.now()));
  EXPECT_EQ(bouncer.figures().last_error, "");
  EXPECT_EQ(bouncer.figures().failing_in_a_row, 0u);
  EXPECT_EQ(said.size(), 2u);
  EXPECT_NE(said.back().find("answers again (after 6 failed pull(s))"), std::string::npos);
}

TEST_F(BouncerTest, ARefusedKeyAnErrorStatusAndABrokenAnswerAreErrorsThatChangeNothing) {
  const std::vector<std::pair<HttpAnswer, std::string>> cases = {
      {{403, R"({"message":"access forbidden"})"},
       "http://10.200.9.1:8080/ refused the bouncer's key (HTTP 403): check api_key_file "
       "(cscli bouncers list)"},
      {{500, "database is locked"},
       "http://10.200.9.1:8080/ answered HTTP 500: database is locked"},
      {{200, "<html>"},
       "http://10.200.9.1:8080/: the decision stream's answer is not a JSON object"}};
  for (const auto& [answer, error] : cases) {
    http.answer = [answer](const FakeHttp::Request&) -> std::expected<HttpAnswer, std::string> {
      return answer;
    };
    bouncer.pull();
    EXPECT_EQ(bouncer.figures().last_error, error);
    EXPECT_EQ(blocks.size(), 0u);
  }
  EXPECT_NE(http.requests.back().url.find("startup=true"), std::string::npos)
      << "no good pull yet: still asking for the whole state";
}

struct SourceTest : ::testing::Test {
  FakeClock clock;
  BlockList blocks;
  FakeHttp http;
  std::vector<std::string> said;
  std::vector<nlohmann::json> alerts;
  int logins = 0;
  CrowdSecSection cfg = [] {
    CrowdSecSection c = config();
    c.login = "server-a";
    c.password = "machine-password";
    return c;
  }();
  std::unique_ptr<AlertSource> source;
  void SetUp() override {
    source = std::make_unique<AlertSource>(cfg, blocks, http, clock,
                                           [this](const std::string& s) { said.push_back(s); });
    http.answer = [this](const FakeHttp::Request& r) -> std::expected<HttpAnswer, std::string> {
      if (r.url.ends_with("/v1/watchers/login")) {
        ++logins;
        const auto body = nlohmann::json::parse(r.body);
        if (body["machine_id"] != "server-a" || body["password"] != "machine-password") {
          return HttpAnswer{401, "{}"};
        }
        return ok(R"({"code":200,"expire":"2026-12-06T10:00:00Z","token":"jwt-)" +
                  std::to_string(logins) + "\"}");
      }
      if (r.url.ends_with("/v1/alerts")) {
        if (std::find(r.headers.begin(), r.headers.end(),
                      "Authorization: Bearer jwt-" + std::to_string(logins)) == r.headers.end()) {
          return HttpAnswer{401, "{}"};
        }
        nlohmann::json ids = nlohmann::json::array();
        for (const auto& a : nlohmann::json::parse(r.body)) {
          alerts.push_back(a);
          ids.push_back(std::to_string(alerts.size()));
        }
        return HttpAnswer{201, ids.dump()};
      }
      return HttpAnswer{404, ""};
    };
  }
};

TEST_F(SourceTest, BlocksPresentAtStartAreNotPushedNewScanBlocksAreOnce) {
  const Timestamp now = clock.now();
  blocks.add(*parse_ip_address("192.0.2.1"), now + seconds(600), BlockReason::scan, now);
  source->push();
  EXPECT_TRUE(alerts.empty()) << "restored from the state file: the run that made it pushed it";
  blocks.add(*parse_ip_address("2001:db8:1::"), now + seconds(600), BlockReason::scan, now, 64);
  blocks.add(*parse_ip_address("192.0.2.2"), Timestamp::max(), BlockReason::manual, now);
  source->push();
  ASSERT_EQ(alerts.size(), 1u) << "manual blocks only with push_manual";
  const nlohmann::json& a = alerts[0];
  EXPECT_EQ(a["scenario"], "portwall/port-scan");
  EXPECT_EQ(a["source"]["scope"], "Range");
  EXPECT_EQ(a["source"]["value"], "2001:db8:1::/64");
  ASSERT_EQ(a["decisions"].size(), 1u);
  EXPECT_EQ(a["decisions"][0]["type"], "ban");
  EXPECT_EQ(a["decisions"][0]["value"], "2001:db8:1::/64");
  EXPECT_EQ(a["decisions"][0]["duration"], "600s");
  for (const char* key :
       {"capacity", "events", "events_count", "leakspeed", "message", "scenario_hash",
        "scenario_version", "simulated", "start_at", "stop_at"}) {
    EXPECT_TRUE(a.contains(key)) << key << ": required by the LAPI";
  }
  source->push();
  EXPECT_EQ(alerts.size(), 1u) << "pushed once";
  EXPECT_EQ(source->figures().alerts_pushed, 1u);
  EXPECT_EQ(logins, 1);
}

TEST_F(SourceTest, AnExpiredTokenLogsInAgainAndFailuresWaitForTheNextRound) {
  source->push();
  const Timestamp now = clock.now();
  blocks.add(*parse_ip_address("192.0.2.3"), now + seconds(600), BlockReason::scan, now);
  auto working = http.answer;
  http.answer = nullptr;  // down
  source->push();
  EXPECT_EQ(source->figures().alerts_waiting, 1u);
  EXPECT_EQ(source->figures().push_failures, 1u);
  EXPECT_EQ(said.size(), 1u);
  http.answer = working;
  source->push();
  EXPECT_EQ(alerts.size(), 1u);
  EXPECT_EQ(source->figures().alerts_waiting, 0u);
  EXPECT_EQ(source->figures().last_error, "");
  ++logins;  // the LAPI now wants a newer token: the one held is refused once
  blocks.add(*parse_ip_address("192.0.2.4"), now + seconds(600), BlockReason::scan, now);
  source->push();
  EXPECT_EQ(alerts.size(), 2u) << "logged in again and pushed";
}

TEST_F(SourceTest, AWrongPasswordIsAnErrorThatSaysWhatToCheck) {
  cfg.password = "wrong";
  SetUp();
  source->push();
  const Timestamp now = clock.now();
  blocks.add(*parse_ip_address("192.0.2.5"), now + seconds(600), BlockReason::scan, now);
  source->push();
  EXPECT_EQ(source->figures().last_error,
            "http://10.200.9.1:8080/ refused the login of machine server-a (HTTP 401): check "
            "login and password_file (cscli machines list)");
  EXPECT_EQ(source->figures().alerts_waiting, 1u);
}

}  // namespace
}  // namespace portwall
