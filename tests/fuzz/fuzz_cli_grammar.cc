// fuzz_cli_grammar.cc — the words a user types after `portwall`: ufw's rule grammar
// (parse_rule_command), the change it makes to a rules file (apply_change, then write_rules,
// which must load again as the same rules), the `explain` probe grammar, and the value words
// (durations, networks, ports, rates, knocks, interface names), each of which must read back
// the text it writes.
//
// Input: the words, separated by NUL bytes when the input holds one (words may then hold
// spaces), else by white space as a shell splits a simple line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_checks.h"
#include "policy/explain.h"
#include "config/config.h"
#include "rules/duration.h"
#include "rules/rule_grammar.h"
#include "rules/rule_values.h"

namespace {

using namespace portwall;
using fuzz::check;

std::vector<std::string> split(std::string_view input) {
  std::vector<std::string> words;
  const bool by_nul = input.find('\0') != std::string_view::npos;
  std::string word;
  bool in_word = false;
  for (char c : input) {
    const bool separator =
        by_nul ? c == '\0'
               : (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f');
    if (separator) {
      if (in_word || by_nul) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// The rules file the changes apply to: three rules of its own, two more in rules.d.
const RuleSet& base_rules() {
  static const RuleSet set = [] {
    auto r = parse_rules(R"(
[defaults]
incoming = "deny"
outgoing = "allow"

[sets]
admins = ["203.0.113.0/24"]

[[rule]]
action = "allow"
proto = "tcp"
port = 22
comment = "ssh"

[[rule]]
action = "deny"
from = "@admins"

[[rule]]
action = "limit"
proto = "tcp"
port = "80,443"
)",
                         "/etc/portwall/rules.toml");
    check(r.has_value(), "the built-in rules load");
    return *r;
  }();
  return set;
}

const PolicySnapshot& snapshot() {
  static const PolicySnapshot s(base_rules());
  return s;
}

// The rule in the full form, word by word: it must parse back as the same rule.
std::vector<std::string> full_form(const Rule& r) {
  std::vector<std::string> w = {to_string(r.action), to_string(r.direction)};
  if (!r.interface.empty()) w.insert(w.end(), {"on", r.interface.str()});
  if (r.log) w.push_back("log");
  if (r.proto != Proto::any) w.insert(w.end(), {"proto", to_string(r.proto)});
  w.insert(w.end(), {"from", r.from_text.str()});
  if (!r.from_port_text.empty()) w.insert(w.end(), {"port", r.from_port_text.str()});
  w.insert(w.end(), {"to", r.to_text.str()});
  if (!r.port_text.empty()) w.insert(w.end(), {"port", r.port_text.str()});
  if (!r.comment.empty()) w.insert(w.end(), {"comment", r.comment.str()});
  return w;
}

void rule_command(std::span<const std::string> words) {
  auto c = parse_rule_command(words);
  if (!c) {
    check(!c.error().empty(), "a refused command says why");
    return;
  }
  using Kind = RuleCommand::Kind;
  if (c->kind == Kind::add || c->kind == Kind::insert || c->kind == Kind::prepend ||
      c->kind == Kind::delete_rule) {
    const std::vector<std::string> again_words = full_form(c->rule);
    auto again = parse_rule_command(again_words);
    check(again.has_value(), "the full form of a rule parses",
          rule_words(c->rule) + (again ? "" : "\n" + again.error()));
    check(same_rule(again->rule, c->rule) && again->rule.comment == c->rule.comment,
          "the full form is the same rule", rule_words(c->rule) + "\n" + rule_words(again->rule));
  }
  const RuleSet& file = base_rules();
  auto edit = apply_change(file, *c, file.rules.size() + 2);
  if (!edit) return;
  if (edit->changed) fuzz::check_round_trip(edit->rules, "/etc/portwall/rules.toml");
}

void explain_probe(std::span<const std::string> words) {
  auto probe = parse_probe(words);
  if (!probe) return;
  check(probe->input.src.family == probe->input.dst.family, "a probe has one family");
  const Explanation plain = explain(snapshot(), *probe, std::nullopt);
  check(!plain.why.empty(), "an explanation says why");
  (void)explain(snapshot(), *probe, TrackedFlow{TcpState::established});
  (void)explain(snapshot(), *probe, TrackedFlow{TcpState::established, true, 1});
  DefenseFacts facts;
  facts.blocked = "blocked";
  facts.knock_port = "door";
  (void)explain(snapshot(), *probe, std::nullopt, facts);
}

// Each value word that parses reads back from the text written for it.
void value_word(const std::string& w) {
  if (auto d = parse_duration(w)) {
    auto again = parse_duration(format_duration(*d));
    check(again && *again == *d, "a duration reads back", w);
  }
  if (auto c = parse_cidr(w)) {
    auto again = parse_cidr(to_string(*c));
    check(again && *again == *c, "a network reads back", w);
  }
  if (auto a = parse_ip_address(w)) {
    auto again = parse_ip_address(to_string(*a));
    check(again && *again == *a, "an address reads back", w);
  }
  if (auto r = parse_rate(w)) {
    auto again = parse_rate(to_string(*r));
    check(again && *again == *r, "a rate reads back", w);
  }
  if (auto pp = parse_port_proto(w)) {
    auto again = parse_port_proto(to_string(*pp));
    check(again && *again == *pp, "a knock reads back", w);
  }
  for (Proto proto : {Proto::any, Proto::udp}) {
    if (auto p = parse_ports(w, proto)) {
      check(!p->ranges.empty(), "a port list has ports", w);
      for (const PortRange& r : p->ranges) {
        check(r.first >= 1 && r.first <= r.last, "port ranges are 1-65535, first <= last", w);
      }
    }
  }
  (void)check_interface(w);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::string> words =
      split(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::span<const std::string> all(words);
  if (!words.empty() && words[0] == "explain") {
    explain_probe(all.subspan(1));
  } else {
    rule_command(all);
    explain_probe(all);
  }
  for (std::size_t i = 0; i < words.size() && i < 16; ++i) value_word(words[i]);
  return 0;
}
