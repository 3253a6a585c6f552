// main.cc — portwall, the rules CLI (DESIGN.md "CLI grammar"): `status [numbered|verbose]`,
// `reload`, `check [FILE]`, `explain`, `conntrack`, `blocked`, `knock`, and the rule changes of
// ufw's grammar (allow, deny, reject, limit, insert, prepend, delete, default), applied live
// through the daemon or, with no daemon running, to the rules file. Exit codes: 0 ok, 1 bad input,
// a usage error or refused, 2 daemon unreachable, 3 not authorized.
#include <sys/socket.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <iostream>
#include <optional>
#include <vector>

#include "audit/log_event.h"
#include "cli/knock_client.h"
#include "cli/offline_edit.h"
#include "cli/service_command.h"
#include "cli/status_view.h"
#include "cli/usage.h"
#include "config/policy_files.h"
#include "control/control_client.h"
#include "control/control_protocol.h"
#include "exposure/ports_report.h"
#include "fs/file_system.h"
#include "host/host_sockets.h"
#include "metrics/prometheus_text.h"
#include "rules/rule_grammar.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace {

constexpr const char* kDefaultSocket = "/run/portwall/portwall.sock";
constexpr const char* kDefaultRules = "/etc/portwall/rules.toml";
constexpr const char* kDefaultConfig = "/etc/portwall/portwall.toml";

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "ERROR: %s\n", message.c_str());
  return code;
}

// The daemon's answer (or the failure to get one): errors printed, the exit code and, on
// success, the result.
int answered(const std::expected<nlohmann::json, portwall::ControlFailure>& response,
             nlohmann::json* result) {
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

// One request to the daemon; prints errors; the exit code and, on success, the result.
int ask(const std::string& socket, const nlohmann::json& request, nlohmann::json* result) {
  return answered(portwall::control_request(socket, request), result);
}

// `portwall check [FILE]`. Without FILE: what portwalld --check checks, the configuration with
// the rules it names and their rules.d. With FILE: a configuration (by its tables) the same way,
// else the rules file alone.
int check_command(const std::string& file, const std::string& config,
                  const std::string& rules_override, bool json) {
  std::size_t count = 0;
  std::string what = "rules", checked = file;
  std::vector<std::string> notes;
  std::string text;
  if (!file.empty()) {
    auto read = portwall::read_text_file(file);
    if (!read) return fail(read.error(), portwall::kExitBadInput);
    text = std::move(*read);
  }
  if (file.empty() || portwall::file_kind_of(text) == portwall::FileKind::configuration) {
    checked = file.empty() ? config : file;
    auto loaded = portwall::load_policy_files(checked, file.empty() ? rules_override : "");
    if (!loaded) return fail(loaded.error(), portwall::kExitBadInput);
    count = loaded->rules.rules.size();
    what = "configuration with " + loaded->rules_file;
    notes = loaded->notes;
  } else {
    auto loaded = portwall::parse_rules(text, file);
    if (!loaded) return fail(portwall::to_string(loaded.error()), portwall::kExitBadInput);
    count = loaded->rules.size();
  }
  for (const std::string& note : notes) std::fprintf(stderr, "NOTE: %s\n", note.c_str());
  if (json) {
    std::cout << nlohmann::json{{"ok", true}, {"file", checked}, {"kind", what}, {"rules", count}}
              << "\n";
  } else {
    std::printf("%s: ok, %s: %zu rule(s)\n", checked.c_str(), what.c_str(), count);
  }
  return 0;
}

// `portwall ports`: this host's listening sockets (read here: as root this sees every owner)
// joined with the policy in force, asked from portwalld; only when none runs, with the policy
// the files hold, and the report says which.
int ports_command(const std::string& socket, const std::string& config,
                  const std::string& rules_override, bool json) {
  auto sockets = portwall::read_host_sockets();
  if (!sockets) return fail(sockets.error(), portwall::kExitBadInput);
  const auto ephemeral = portwall::read_ephemeral_range();
  nlohmann::json request = {{"command", "ports"}, {"sockets", portwall::sockets_json(*sockets)}};
  if (ephemeral) request["ephemeral"] = {{"first", ephemeral->first}, {"last", ephemeral->last}};
  nlohmann::json report;
  // More sockets than portwalld takes in one request, or a portwalld from before `ports` was
  // asked of it: the files' policy, as when none runs (the report says so).
  const bool too_many = sockets->size() > portwall::kMaxPortsSockets;
  std::expected<nlohmann::json, portwall::ControlFailure> response =
      std::unexpected(portwall::ControlFailure{"not asked", 0});
  if (!too_many) response = portwall::control_request(socket, request);
  const bool older = response && !response->value("ok", false) &&
                     response->value("error", "").rfind("unknown command", 0) == 0;
  if (too_many || older || (!response && response.error().daemon_absent())) {
    auto policy = portwall::load_policy_files(config, rules_override);
    if (!policy) return fail(policy.error(), portwall::kExitBadInput);
    report = portwall::ports_report(
        *sockets, {policy->rules, policy->config.knocks, policy->rules_file, "files", {}},
        ephemeral);
  } else if (int code = answered(response, &report)) {
    return code;
  }
  std::cout << (json ? report.dump() + "\n" : portwall::render_ports(report));
  return 0;
}

// Before a rules file is edited with no daemon running, or checked by default: which one must
// be certain.
std::expected<void, std::string> rules_file_known(const portwall::CliSetup& setup) {
  if (!setup.rules_unsure) return {};
  return std::unexpected(
      "the configuration could not be read, so which rules file portwalld reads is unknown: "
      "pass --rules FILE (or mend the configuration)");
}

// An offline change the audit log did not get: said, since the trail is incomplete.
void note_unaudited(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "NOTE: %s\n", why.c_str());
}

void print_change(const nlohmann::json& result, bool json) {
  if (json) {
    std::cout << result.dump() << "\n";
  } else {
    std::cout << result.value("summary", "") << "\n";
    if (result.contains("connections")) {
      std::cout << portwall::render_connections(result["connections"]);
    }
  }
}

// With no daemon running, the rules file is edited directly, unless an apply was left
// unconfirmed: portwalld puts the previous file back when it starts, which would undo the edit.
std::expected<void, std::string> offline_edit_allowed(const std::string& rules) {
  std::error_code ec;
  if (!std::filesystem::exists(rules + ".unconfirmed", ec)) return {};
  return std::unexpected(
      "portwalld is not running and an apply of " + rules +
      " was never confirmed: portwalld will put " + rules +
      ".unconfirmed back when it starts, undoing this edit. Start portwalld first (or, to keep "
      "the applied rules, remove " +
      rules + ".unconfirmed)");
}

// The options of the whole command line, given after a verb whose words are its own (a rule,
// explain), as ufw's scripts write them: `portwall allow 22/tcp --json`, `delete 3
// --force`, `--keep-established` anywhere. Taken out of `words`, except the word after
// `comment` (a comment may say anything).
struct LateOptions {
  bool json = false, force = false, keep_established = false;
  std::optional<std::string> socket, rules, config;
};
std::expected<LateOptions, std::string> take_late_options(std::vector<std::string>* words) {
  LateOptions o;
  std::vector<std::string> kept;
  for (std::size_t i = 0; i < words->size(); ++i) {
    const std::string& w = (*words)[i];
    if (i > 0 && (*words)[i - 1] == "comment") {
      kept.push_back(w);
      continue;
    }
    if (w == "--json") {
      o.json = true;
      continue;
    }
    if (w == "--force") {
      o.force = true;
      continue;
    }
    if (w == "--keep-established") {
      o.keep_established = true;
      continue;
    }
    bool taken = false;
    for (auto [name, slot] : {std::pair{"--socket", &o.socket}, std::pair{"--rules", &o.rules},
                              std::pair{"--config", &o.config}}) {
      const std::string flag = name;
      if (w == flag) {
        if (i + 1 >= words->size()) return std::unexpected(flag + " needs a value");
        *slot = (*words)[++i];
        taken = true;
      } else if (w.rfind(flag + "=", 0) == 0) {
        *slot = w.substr(flag.size() + 1);
        taken = true;
      }
    }
    if (!taken) kept.push_back(w);
  }
  *words = std::move(kept);
  return o;
}

// A usage error: what is wrong, and for a missing or unknown command the commands there are.
int usage_error(const CLI::App& app, const CLI::ParseError& e, int argc, char** argv) {
  if (!app.get_subcommands().empty()) {
    app.exit(e);
    return portwall::kExitBadInput;
  }
  // The first word that is neither an option nor an option's value names the command.
  std::string word;
  for (int i = 1; i < argc && word.empty(); ++i) {
    const std::string a = argv[i];
    if (a == "--socket" || a == "--rules" || a == "--config") {
      ++i;
    } else if (a.empty() || a[0] != '-') {
      word = a;
    }
  }
  std::string commands;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    commands += (commands.empty() ? "" : ", ") + sub->get_name();
  }
  if (word.empty() && dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) {
    app.exit(e);
  } else {
    const std::string what =
        word.empty() ? std::string("a command is needed") : "unknown command \"" + word + "\"";
    std::fprintf(stderr, "portwall: %s\ncommands: %s\nportwall --help says more\n", what.c_str(),
                 commands.c_str());
  }
  return portwall::kExitBadInput;
}

// `portwall apply FILE [--confirm DURATION]`: the file is read and checked here (its errors
// name its lines even without a daemon), then sent whole: the daemon may not see the caller's
// files (ProtectHome). Without a daemon it replaces the rules file, unless a confirmation is
// asked for, which only a running daemon can wait for.
int apply_command(const std::string& file, const std::string& confirm, bool keep,
                  const portwall::CliSetup& setup, bool json) {
  const std::string& socket = setup.socket;
  const std::string& rules = setup.rules;
  auto text = portwall::read_text_file(file);
  if (!text) return fail(text.error(), portwall::kExitBadInput);
  auto parsed = portwall::parse_rules(*text, file);
  if (!parsed) {
    return fail(portwall::to_string(parsed.error()) + "\nnothing applied", portwall::kExitBadInput);
  }
  nlohmann::json request = {
      {"command", "apply"}, {"file", file}, {"text", *text}, {"keep_established", keep}};
  if (!confirm.empty()) request["confirm"] = confirm;
  auto response = portwall::control_request(socket, request);
  if (!response && response.error().daemon_absent() && confirm.empty()) {
    if (auto ok = rules_file_known(setup); !ok) return fail(ok.error(), portwall::kExitBadInput);
    if (auto ok = offline_edit_allowed(rules); !ok)
      return fail(ok.error(), portwall::kExitBadInput);
    if (auto ok = portwall::write_file_atomically(rules, *text); !ok) {
      return fail(ok.error(), portwall::kExitBadInput);
    }
    std::printf("portwalld is not running: %s written with %zu rule(s)\n", rules.c_str(),
                parsed->rules.size());
    note_unaudited(portwall::audit_offline_edit(
        setup, "apply",
        "file=" + portwall::log_quoted(file) + " rules_file=" + portwall::log_quoted(rules) +
            " rules=" + std::to_string(parsed->rules.size())));
    return 0;
  }
  nlohmann::json result;
  if (int code = answered(response, &result)) return code;
  if (json) {
    std::cout << result.dump() << "\n";
    return 0;
  }
  std::cout << "Applied " << result.value("rules", 0) << " rule(s) from " << file << " to "
            << result.value("rules_file", "") << "\n";
  std::cout << portwall::render_connections(result.value("connections", nlohmann::json()));
  if (result.contains("confirm_by")) {
    std::cout << "Run `portwall confirm` within " << result.value("confirm_within", "") << " (by "
              << result.value("confirm_by", "")
              << "), or the previous rules come back by themselves\n";
  }
  return 0;
}

// A rule change: validated here (so a typo never needs the daemon), then sent to the daemon,
// or, when none is running, applied to the rules file directly.
int change_rules(const std::vector<std::string>& words, const portwall::CliSetup& setup, bool json,
                 bool keep) {
  const std::string& socket = setup.socket;
  const std::string& rules = setup.rules;
  if (auto parsed = portwall::parse_rule_command(words); !parsed) {
    return fail(parsed.error(), portwall::kExitBadInput);
  }
  auto response = portwall::control_request(
      socket, {{"command", "change"}, {"words", words}, {"keep_established", keep}});
  if (!response && response.error().denied()) {
    return fail(response.error().message, portwall::kExitUnauthorized);
  }
  if (!response && !response.error().daemon_absent()) {
    return fail(response.error().message, portwall::kExitUnreachable);
  }
  if (!response) {
    if (auto ok = rules_file_known(setup); !ok) return fail(ok.error(), portwall::kExitBadInput);
    if (auto ok = offline_edit_allowed(rules); !ok)
      return fail(ok.error(), portwall::kExitBadInput);
    auto edited =
        portwall::edit_rules_file(words, rules, setup.rules_dir,
                                  setup.config ? setup.config->defaults : portwall::Defaults{});
    if (!edited) return fail(edited.error(), portwall::kExitBadInput);
    print_change(*edited, json);
    if (edited->value("changed", false)) {
      std::string command;
      for (const auto& w : words) command += (command.empty() ? "" : " ") + w;
      note_unaudited(portwall::audit_offline_edit(
          setup, "change",
          "command=" + portwall::log_quoted(command) +
              " before=" + portwall::log_quoted(edited->value("before", "")) +
              " after=" + portwall::log_quoted(edited->value("after", "")) +
              " rules_file=" + portwall::log_quoted(rules)));
    }
    return 0;
  }
  if (!response->value("ok", false)) {
    return fail(response->value("error", "change refused"),
                response->value("code", portwall::kExitBadInput));
  }
  print_change((*response)["result"], json);
  return 0;
}

// `blocked list`, `blocked remove ADDR|CIDR`, `blocked add ADDR|CIDR [for DURATION]` as a request.
std::expected<nlohmann::json, std::string> blocked_request(const std::vector<std::string>& w) {
  const std::string action = w.empty() ? "list" : w[0];
  const std::string usage =
      "usage: portwall blocked [list | add ADDR|CIDR [for DURATION] | remove ADDR|CIDR]";
  if (action == "list" && w.size() <= 1)
    return nlohmann::json{{"command", "blocked"}, {"action", "list"}};
  if (action == "remove" && w.size() == 2) {
    return nlohmann::json{{"command", "blocked"}, {"action", "remove"}, {"address", w[1]}};
  }
  if (action == "add" && (w.size() == 2 || (w.size() == 4 && w[2] == "for"))) {
    nlohmann::json r = {{"command", "blocked"}, {"action", "add"}, {"address", w[1]}};
    if (w.size() == 4) r["for"] = w[3];
    return r;
  }
  return std::unexpected(usage);
}

int knock_command(const std::vector<std::string>& words, bool spa, bool udp, int delay_ms,
                  int family, std::uint16_t spa_port, const std::string& key_file,
                  const std::string& spa_source) {
  const std::string& host = words.front();
  if (spa) {
    if (words.size() != 1) return fail("--spa takes only HOST; the key says the rest", 1);
    if (key_file.empty()) return fail("--spa needs --key-file FILE (the server's spa_key)", 1);
    auto read = portwall::read_text_file(key_file);  // "cannot read FILE: why"
    if (!read) return fail(read.error(), 1);
    const std::string key = portwall::without_line_end(std::move(*read));
    std::optional<portwall::IpAddress> source;
    if (!spa_source.empty()) {
      source = portwall::parse_ip_address(spa_source);
      if (!source)
        return fail("--source needs an IPv4 or IPv6 address, got \"" + spa_source + "\"", 1);
    }
    if (auto ok = portwall::send_spa(host, spa_port, key, family, source); !ok) {
      return fail(ok.error(), 1);
    }
    std::printf("SPA knock sent to %s port %u/udp\n", host.c_str(), spa_port);
    return 0;
  }
  if (words.size() < 2) return fail("knock needs HOST and at least one PORT[/tcp|/udp]", 1);
  std::vector<portwall::PortProto> knocks;
  for (std::size_t i = 1; i < words.size(); ++i) {
    auto k = portwall::parse_knock(words[i], udp ? 17 : 6);
    if (!k) return fail(k.error(), 1);
    knocks.push_back(*k);
  }
  if (auto ok = portwall::send_knocks(host, knocks, std::chrono::milliseconds(delay_ms), family);
      !ok) {
    return fail(ok.error(), 1);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"portwall: manage the portwall firewall", "portwall"};
  app.require_subcommand(1);
  // Options after the verb belong to the whole line (`portwall status --json`), as in ufw.
  app.fallthrough();
  app.footer(std::string(portwall::usage::kRuleSynopsis) + "\n" + portwall::usage::kFooter);
  bool json = false;
  std::string socket = kDefaultSocket;
  std::string rules = kDefaultRules;
  app.add_flag("--json", json, "machine-readable output");
  // Given twice (before and after the verb, or by a wrapper and its caller): the last counts.
  const auto last = CLI::MultiOptionPolicy::TakeLast;
  app.add_option("--socket", socket, "control socket")
      ->capture_default_str()
      ->multi_option_policy(last);
  app.add_option("--rules", rules, "rules file")->capture_default_str()->multi_option_policy(last);
  std::string config = kDefaultConfig;
  app.add_option("--config", config,
                 "portwalld's configuration: its [daemon] socket and rules are the defaults of "
                 "--socket and --rules, its [log] audit_file records offline changes")
      ->capture_default_str()
      ->multi_option_policy(last);

  auto* status = app.add_subcommand("status", "rules, defaults and counters of the live daemon");
  std::string style_word;
  status->add_option("style", style_word, "numbered | verbose")
      ->check(CLI::IsMember({"numbered", "verbose"}));
  auto* reload = app.add_subcommand("reload", "reload the configuration and rules");
  auto* metrics =
      app.add_subcommand("metrics", "the live daemon's counters in Prometheus' text format");
  auto* mode = app.add_subcommand(
      "mode", "monitor: decide and log but let everything through; enforce: apply the verdicts");
  std::string mode_word;
  mode->add_option("mode", mode_word, "monitor | enforce")
      ->required()
      ->check(CLI::IsMember({"monitor", "enforce"}));
  bool keep_established = false;
  const char* keep_help =
      "established connections the change denies stay up (by default they are cut)";
  mode->add_flag("--keep-established", keep_established, keep_help);
  reload->add_flag("--keep-established", keep_established, keep_help);
  auto* apply = app.add_subcommand(
      "apply", "replace the rules with FILE's, live; with --confirm, undone unless confirmed");
  std::string apply_file, apply_confirm;
  apply->add_option("file", apply_file, "rules file to apply")->required();
  apply->add_option("--confirm", apply_confirm,
                    "roll back by itself unless `portwall confirm` comes within DURATION (60s)");
  apply->add_flag("--keep-established", keep_established, keep_help);
  auto* confirm = app.add_subcommand(
      "confirm", "keep the rules of a pending apply --confirm, or the firewall an enable started");
  bool force = false;
  app.add_flag("--force", force, "enable: start even if the rules would lock SSH out");
  auto* enable = app.add_subcommand(
      "enable", "start the firewall and enable it at boot (refused if SSH would be locked out)");
  std::string enable_confirm;
  enable->add_flag("--force", force, "start even if the rules would lock SSH out");
  enable->add_option("--confirm", enable_confirm,
                     "stop again by itself unless `portwall confirm` comes within DURATION "
                     "(60s); enabled at boot once confirmed");
  auto* disable = app.add_subcommand("disable", "stop the firewall and disable it at boot");
  auto* ports = app.add_subcommand(
      "ports", "listening ports, their processes, and who the rules let reach them");
  // `ports --config FILE` is the global --config (fallthrough): its socket is asked first.
  auto* check = app.add_subcommand("check", "validate a rules file (exit 1 with file:line:col)");
  std::string check_file;
  check->add_option("file", check_file, "rules file (default: --rules)");

  auto* explain =
      app.add_subcommand("explain",
                         "which rule decides PROTO SRC[:PORT] to DST[:PORT] [in|out] [on IFACE]")
          ->prefix_command()
          ->fallthrough(false);
  auto* conntrack = app.add_subcommand("conntrack", "tracked connections: list, count or flush");
  std::string conntrack_action = "list";
  conntrack->add_option("action", conntrack_action, "list | count | flush")
      ->check(CLI::IsMember({"list", "count", "flush"}));
  auto* blocked = app.add_subcommand(
      "blocked", "blocked sources: list, add ADDR|CIDR [for DURATION], remove ADDR|CIDR");
  std::vector<std::string> blocked_words;
  blocked->add_option("words", blocked_words,
                      "list | add ADDR|CIDR [for DURATION] | remove ADDR|CIDR");
  blocked->add_flag("--keep-established", keep_established,
                    "the address's established connections stay up (by default they are cut)");
  auto* knock = app.add_subcommand(
      "knock", "knock on HOST: KNOCK... (7000, 7000/tcp, 8000/udp), or --spa with a key");
  std::vector<std::string> knock_words;
  bool knock_udp = false, knock_v4 = false, knock_v6 = false, knock_spa = false;
  int knock_delay_ms = 0;
  int spa_port = 62201;
  std::string spa_key_file;
  knock->add_option("words", knock_words, "HOST and, without --spa, the knocks")->required();
  knock->add_flag("-u,--udp", knock_udp, "knocks without /proto are UDP (default TCP)");
  knock->add_option("-d,--delay", knock_delay_ms, "milliseconds between knocks");
  knock->add_flag("-4", knock_v4, "IPv4 only");
  knock->add_flag("-6", knock_v6, "IPv6 only");
  knock->add_flag("--spa", knock_spa, "one authenticated UDP packet instead of a sequence");
  knock->add_option("--port", spa_port, "the SPA port (spa_port)")->check(CLI::Range(1, 65535));
  knock->add_option("--key-file", spa_key_file, "file holding the shared key (spa_key)");
  std::string spa_source;
  knock->add_option("--source", spa_source,
                    "the address the server sees this client come from (behind NAT); "
                    "default: the local address of the route");
  std::vector<CLI::App*> rule_verbs;
  for (const char* verb : {"allow", "deny", "reject", "limit", "insert", "prepend", "delete",
                           "default", "forward", "route"}) {
    // The rest of the line is ufw's grammar, parsed by parse_rule_command.
    rule_verbs.push_back(
        app.add_subcommand(verb, std::string(verb) + " RULE (ufw's grammar)")
            ->prefix_command()
            ->fallthrough(false));  // all its words are its own: take_late_options() sorts them
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app, e, argc, argv);
  }

  // The words of a rule or an explain, with the options written among them taken out.
  std::vector<std::string> verb_words;
  bool socket_given = app.get_option("--socket")->count() > 0;
  bool rules_given = app.get_option("--rules")->count() > 0;
  for (CLI::App* verb : rule_verbs) {
    if (*verb) verb_words = verb->remaining();
  }
  if (*explain) verb_words = explain->remaining();
  if (auto late = take_late_options(&verb_words); !late) {
    return fail(late.error(), portwall::kExitBadInput);
  } else {
    json = json || late->json;
    force = force || late->force;
    keep_established = keep_established || late->keep_established;
    if (late->socket) socket = *late->socket, socket_given = true;
    if (late->rules) rules = *late->rules, rules_given = true;
    if (late->config) config = *late->config;
  }

  // The configuration fills in what the command line leaves out (as portwalld reads it).
  const portwall::CliSetup setup =
      portwall::cli_setup(config, socket_given ? std::optional(socket) : std::nullopt,
                          rules_given ? std::optional(rules) : std::nullopt);
  if (!setup.warning.empty()) std::fprintf(stderr, "WARNING: %s\n", setup.warning.c_str());
  socket = setup.socket;
  rules = setup.rules;

  if (*check) return check_command(check_file, config, rules_given ? rules : "", json);
  if (*ports) {
    return ports_command(socket, config, rules_given ? rules : "", json);
  }

  for (CLI::App* verb : rule_verbs) {
    if (!*verb) continue;
    std::vector<std::string> words = {verb->get_name()};
    for (const std::string& w : verb_words) words.push_back(w);
    if (words.size() == 1 || (words.size() == 2 && words[0] == "forward" && words[1] == "list")) {
      if (words[0] != "forward") return change_rules(words, setup, json, keep_established);
      // `portwall forward [list]`: the forwards the daemon runs.
      nlohmann::json status;
      if (int code = ask(socket, {{"command", "status"}}, &status)) return code;
      std::cout << (json ? status["forwards"].dump() + "\n"
                         : portwall::render_forwards(status["forwards"]));
      return 0;
    }
    return change_rules(words, setup, json, keep_established);
  }

  if (*apply) {
    return apply_command(apply_file, apply_confirm, keep_established, setup, json);
  }
  if (*enable) {
    return portwall::enable_command(
        {config, rules_given ? rules : "", force, enable_confirm, json});
  }
  if (*disable) return portwall::disable_command(json);
  nlohmann::json result;
  if (*confirm) {
    if (int code = ask(socket, {{"command", "confirm"}}, &result)) return code;
    const bool enabled = result.value("enable", false);
    const auto at_boot = enabled ? portwall::enable_at_boot() : false;
    if (json) {
      std::cout << result.dump() << "\n";
    } else if (enabled) {
      std::cout << "Confirmed: the firewall stays active"
                << (at_boot.value_or(false) ? " and is enabled on system startup" : "") << "\n";
    } else {
      std::cout << "Confirmed: the rules applied from " << result.value("file", "?") << " by "
                << result.value("applied_by", "?") << " stay\n";
    }
    if (!at_boot) return fail(at_boot.error(), portwall::kExitBadInput);
    return 0;
  }
  if (*explain) {
    if (int code = ask(socket, {{"command", "explain"}, {"words", verb_words}}, &result)) {
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
  if (*mode) {
    const nlohmann::json request = {
        {"command", "mode"}, {"action", mode_word}, {"keep_established", keep_established}};
    if (int code = ask(socket, request, &result); code != 0) return code;
    if (json) {
      std::cout << result.dump() << "\n";
    } else {
      std::cout << "Mode: " << result.value("mode", "?")
                << " (until portwalld restarts; [daemon] mode in portwall.toml keeps it)\n";
      std::cout << portwall::render_connections(result.value("connections", nlohmann::json()));
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
  if (*knock)
    return knock_command(knock_words, knock_spa, knock_udp, knock_delay_ms,
                         knock_v4   ? AF_INET
                         : knock_v6 ? AF_INET6
                                    : AF_UNSPEC,
                         static_cast<std::uint16_t>(spa_port), spa_key_file, spa_source);
  if (*blocked) {
    nlohmann::json request;
    // --keep-established among the words is blocked's own flag (CLI11 takes it out).
    if (auto r = blocked_request(blocked_words); !r) {
      return fail(r.error(), portwall::kExitBadInput);
    } else {
      request = *r;
      if (keep_established) request["keep_established"] = true;
    }
    const std::string blocked_action = request["action"];
    if (int code = ask(socket, request, &result)) return code;
    if (json) {
      std::cout << result.dump() << "\n";
    } else if (blocked_action == "remove") {
      std::cout << (result.value("removed", false) ? "Unblocked " : "Not blocked: ")
                << result.value("address", "") << "\n";
      if (const auto still = result.find("still_blocked_by"); still != result.end()) {
        std::cout << "Still blocked by " << still->value("address", "?") << " ("
                  << still->value("reason", "?") << ") until " << still->value("expires", "?")
                  << "\n";
      }
    } else if (blocked_action == "add") {
      std::cout << "Blocked " << result.value("address", "") << " until "
                << result.value("expires", "") << "\n";
      std::cout << portwall::render_connections(result.value("connections", nlohmann::json()));
    } else {
      for (const auto& b : result) {
        std::cout << b.value("address", "?") << "  " << b.value("reason", "?") << "  until "
                  << b.value("expires", "?") << "\n";
      }
    }
    return 0;
  }
  const char* command = *status || *metrics ? "status" : *reload ? "reload" : "";
  nlohmann::json request = {{"command", command}};
  if (*reload && keep_established) request["keep_established"] = true;
  if (*reload && json) request["status"] = true;  // the status object, as documented
  if (int code = ask(socket, request, &result); code != 0) return code;
  if (*metrics) {
    std::cout << portwall::render_prometheus(result);
    return 0;
  }
  if (json) {
    std::cout << result.dump() << "\n";
    return 0;
  }
  if (*reload) {
    std::printf("Rules reloaded: %zu rule(s)\n", result.value("rule_count", std::size_t{0}));
    std::cout << portwall::render_connections(result.value("connections", nlohmann::json()));
    return 0;
  }
  const portwall::StatusStyle style = style_word == "numbered"  ? portwall::StatusStyle::numbered
                                      : style_word == "verbose" ? portwall::StatusStyle::verbose
                                                                : portwall::StatusStyle::plain;
  std::cout << portwall::render_status(result, style);
  return 0;
}
