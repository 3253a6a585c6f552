// main.cc — portwall, the rules CLI (DESIGN.md "CLI grammar"): `status [numbered|verbose]`,
// `reload`, `check [FILE]`, and the rule changes of ufw's grammar (allow, deny, reject, limit,
// insert, prepend, delete, default), applied live through the daemon or, with no daemon
// running, to the rules file. Exit codes: 0 ok, 1 bad input or refused, 2 daemon unreachable
// (or a usage error), 3 not authorized.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/offline_edit.h"
#include "cli/status_view.h"
#include "cli/usage.h"
#include "control/control_client.h"
#include "control/control_protocol.h"
#include "rules/policy_files.h"
#include "rules/rule_grammar.h"
#include "rules/rule_loader.h"

namespace {

constexpr const char* kDefaultSocket = "/run/portwall/portwall.sock";
constexpr const char* kDefaultRules = "/etc/portwall/rules.toml";

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "ERROR: %s\n", message.c_str());
  return code;
}

// One request to the daemon; prints errors; the exit code and, on success, the result.
int ask(const std::string& socket, const nlohmann::json& request, nlohmann::json* result) {
  auto response = portwall::control_request(socket, request);
  if (!response) {
    return fail(response.error().message, response.error().denied() ? portwall::kExitUnauthorized
                                                                    : portwall::kExitUnreachable);
  }
  if (!response->value("ok", false)) {
    return fail(response->value("error", "request refused"),
                response->value("code", portwall::kExitBadInput));
  }
  *result = (*response)["result"];
  return 0;
}

// A configuration (it has [daemon], [log], ... tables) is checked with the rules it names,
// exactly as portwalld --check does; anything else is checked as a rules file.
bool is_configuration(const std::string& file) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    for (const char* table :
         {"[daemon]", "[log]", "[conntrack]", "[scan_detection]", "[[knock]]"}) {
      if (line.rfind(table, 0) == 0) return true;
    }
  }
  return false;
}

int check_file_command(const std::string& file, bool json) {
  std::size_t count = 0;
  std::string what = "rules";
  if (is_configuration(file)) {
    auto loaded = portwall::load_policy_files(file);
    if (!loaded) return fail("\n" + loaded.error(), portwall::kExitBadInput);
    count = loaded->rules.rules.size();
    what = "configuration with " + loaded->rules_file;
  } else {
    auto loaded = portwall::load_rules(file);
    if (!loaded) return fail("\n" + portwall::to_string(loaded.error()), portwall::kExitBadInput);
    count = loaded->rules.size();
  }
  if (json) {
    std::cout << nlohmann::json{{"ok", true}, {"file", file}, {"kind", what}, {"rules", count}}
              << "\n";
  } else {
    std::printf("%s: ok, %s: %zu rule(s)\n", file.c_str(), what.c_str(), count);
  }
  return 0;
}

void print_change(const nlohmann::json& result, bool json) {
  if (json) {
    std::cout << result.dump() << "\n";
  } else {
    std::cout << result.value("summary", "") << "\n";
  }
}

// A rule change: validated here (so a typo never needs the daemon), then sent to the daemon,
// or, when none is running, applied to the rules file directly.
int change_rules(const std::vector<std::string>& words, const std::string& socket,
                 const std::string& rules, bool json) {
  if (auto parsed = portwall::parse_rule_command(words); !parsed) {
    return fail(parsed.error(), portwall::kExitBadInput);
  }
  auto response = portwall::control_request(socket, {{"command", "change"}, {"words", words}});
  if (!response && response.error().denied()) {
    return fail(response.error().message, portwall::kExitUnauthorized);
  }
  if (!response && !response.error().daemon_absent()) {
    return fail(response.error().message, portwall::kExitUnreachable);
  }
  if (!response) {
    auto edited = portwall::edit_rules_file(words, rules);
    if (!edited) return fail(edited.error(), portwall::kExitBadInput);
    print_change(*edited, json);
    return 0;
  }
  if (!response->value("ok", false)) {
    return fail(response->value("error", "change refused"),
                response->value("code", portwall::kExitBadInput));
  }
  print_change((*response)["result"], json);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"portwall: manage the portwall firewall", "portwall"};
  app.require_subcommand(1);
  app.footer(std::string(portwall::usage::kRuleSynopsis) + "\n" + portwall::usage::kFooter);
  bool json = false;
  std::string socket = kDefaultSocket;
  std::string rules = kDefaultRules;
  app.add_flag("--json", json, "machine-readable output");
  app.add_option("--socket", socket, "control socket")->capture_default_str();
  app.add_option("--rules", rules, "rules file")->capture_default_str();

  auto* status = app.add_subcommand("status", "rules, defaults and counters of the live daemon");
  std::string style_word;
  status->add_option("style", style_word, "numbered | verbose")
      ->check(CLI::IsMember({"numbered", "verbose"}));
  auto* reload = app.add_subcommand("reload", "reload the configuration and rules");
  auto* check = app.add_subcommand("check", "validate a rules file (exit 1 with file:line:col)");
  std::string check_file;
  check->add_option("file", check_file, "rules file (default: --rules)");

  auto* explain =
      app.add_subcommand("explain",
                         "which rule decides PROTO SRC[:PORT] -> DST[:PORT] [in|out] [on IFACE]")
          ->prefix_command();
  auto* conntrack = app.add_subcommand("conntrack", "tracked connections: list, count or flush");
  std::string conntrack_action = "list";
  conntrack->add_option("action", conntrack_action, "list | count | flush")
      ->check(CLI::IsMember({"list", "count", "flush"}));
  auto* blocked =
      app.add_subcommand("blocked", "sources blocked by scan detection: list, remove ADDR");
  std::string blocked_action = "list", blocked_address;
  blocked->add_option("action", blocked_action, "list | remove")
      ->check(CLI::IsMember({"list", "remove"}));
  blocked->add_option("address", blocked_address, "the address to unblock");
  std::vector<CLI::App*> rule_verbs;
  for (const char* verb :
       {"allow", "deny", "reject", "limit", "insert", "prepend", "delete", "default"}) {
    // The rest of the line is ufw's grammar, parsed by parse_rule_command.
    rule_verbs.push_back(
        app.add_subcommand(verb, std::string(verb) + " RULE (ufw's grammar)")->prefix_command());
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  if (*check) return check_file_command(check_file.empty() ? rules : check_file, json);

  for (CLI::App* verb : rule_verbs) {
    if (!*verb) continue;
    std::vector<std::string> words = {verb->get_name()};
    for (const std::string& w : verb->remaining()) words.push_back(w);
    return change_rules(words, socket, rules, json);
  }

  nlohmann::json result;
  if (*explain) {
    if (int code =
            ask(socket, {{"command", "explain"}, {"words", explain->remaining()}}, &result)) {
      return code;
    }
    if (json) {
      std::cout << result.dump() << "\n";
    } else {
      std::cout << result.value("verdict", "?") << " (" << result.value("reason", "?") << ")";
      if (result.contains("rule_text")) {
        std::cout << " by rule " << result["rule"] << ": " << result.value("rule_text", "");
      }
      std::cout << "\n  " << result.value("why", "") << "\n";
    }
    return 0;
  }
  if (*conntrack) {
    const nlohmann::json request = {{"command", "conntrack"}, {"action", conntrack_action}};
    if (int code = ask(socket, request, &result)) return code;
    if (json) {
      std::cout << (conntrack_action == "list" ? result["flows"] : result).dump() << "\n";
    } else if (conntrack_action == "list") {
      std::cout << portwall::render_flows(result["flows"]);
    } else if (conntrack_action == "count") {
      std::cout << result.value("count", 0) << "\n";
    } else {
      std::cout << "Flushed " << result.value("flushed", 0) << " connection(s)\n";
    }
    return 0;
  }
  if (*blocked) {
    const nlohmann::json request = {
        {"command", "blocked"}, {"action", blocked_action}, {"address", blocked_address}};
    if (int code = ask(socket, request, &result)) return code;
    if (json) {
      std::cout << result.dump() << "\n";
    } else if (blocked_action == "remove") {
      std::cout << (result.value("removed", false) ? "Unblocked " : "Not blocked: ")
                << result.value("address", "") << "\n";
    } else {
      for (const auto& b : result) {
        std::cout << b.value("address", "?") << "  " << b.value("reason", "?") << "  until "
                  << b.value("expires", "?") << "\n";
      }
    }
    return 0;
  }
  const char* command = *status ? "status" : *reload ? "reload" : "";
  if (int code = ask(socket, {{"command", command}}, &result); code != 0) return code;
  if (json) {
    std::cout << result.dump() << "\n";
    return 0;
  }
  if (*reload) {
    std::printf("Rules reloaded: %zu rule(s)\n", result["rules"].size());
    return 0;
  }
  const portwall::StatusStyle style = style_word == "numbered"  ? portwall::StatusStyle::numbered
                                      : style_word == "verbose" ? portwall::StatusStyle::verbose
                                                                : portwall::StatusStyle::plain;
  std::cout << portwall::render_status(result, style);
  return 0;
}
