#include "rules/rule_grammar.h"

#include <cctype>
#include <charconv>
#include <optional>

#include "rules/forward.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

std::string q(std::string_view word) { return "\"" + std::string(word) + "\""; }

std::optional<Action> action_of(std::string_view w) {
  if (w == "allow") return Action::allow;
  if (w == "deny") return Action::deny;
  if (w == "reject") return Action::reject;
  if (w == "limit") return Action::limit;
  return std::nullopt;
}

std::optional<Proto> proto_of(std::string_view w) {
  if (w == "tcp") return Proto::tcp;
  if (w == "udp") return Proto::udp;
  if (w == "icmp" || w == "ipv6-icmp") return Proto::icmp;
  if (w == "any") return Proto::any;
  return std::nullopt;
}

std::expected<std::size_t, std::string> rule_number(std::string_view w, std::string_view verb) {
  std::size_t n = 0;
  auto [rest, ec] = std::from_chars(w.data(), w.data() + w.size(), n);
  if (ec != std::errc() || rest != w.data() + w.size() || n == 0) {
    return std::unexpected(std::string(verb) +
                           " needs a rule number (1, 2, ... as `status "
                           "numbered` shows), got " +
                           q(w));
  }
  return n;
}

// Walks the words of one rule, starting at its action.
class RuleWords {
 public:
  RuleWords(std::span<const std::string> words, bool route) : words_(words), route_(route) {}

  std::expected<Rule, std::string> parse() {
    if (words_.empty()) return fail("expected allow, deny, reject or limit, got nothing");
    auto action = action_of(words_[0]);
    if (!action) return fail("expected allow, deny, reject or limit, got " + q(words_[0]));
    rule_.action = *action;
    pos_ = 1;
    if (route_) {
      // ufw's `route allow in on eth0 out on br0 ...`: either, both, or neither.
      rule_.direction = Direction::route;
      while (at("in") || at("out")) {
        const bool in = words_[pos_] == "in";
        CompactText& slot = in ? rule_.interface : rule_.out_interface;
        if (!slot.empty()) return fail(std::string(in ? "in" : "out") + " on is given twice");
        ++pos_;
        if (!at("on")) {
          return fail(std::string("a route rule names its interfaces as ") +
                      (in ? "in on IFACE" : "out on IFACE") + ", got " +
                      q(pos_ < words_.size() ? words_[pos_] : "nothing"));
        }
        auto name = value("on", "an interface name");
        if (!name) return std::unexpected(name.error());
        if (auto ok = check_interface(*name); !ok) return fail(ok.error());
        slot = *name;
      }
    } else if (at("in") || at("out")) {
      rule_.direction = words_[pos_] == "in" ? Direction::in : Direction::out;
      ++pos_;
      if (at("on")) {
        auto name = value("on", "an interface name");
        if (!name) return std::unexpected(name.error());
        if (auto ok = check_interface(*name); !ok) return fail(ok.error());
        rule_.interface = *name;
      }
    }
    if (at("log")) {
      rule_.log = true;
      ++pos_;
    }
    // `route allow in on wg0 out on eth0`: everything between two interfaces, as ufw has it.
    if (pos_ == words_.size() && route_ &&
        (!rule_.interface.empty() || !rule_.out_interface.empty())) {
      return finish();
    }
    if (pos_ == words_.size())
      return fail("expected a port (22/tcp), a service or from/to after " + q(words_[pos_ - 1]));
    if (!is_keyword(words_[pos_])) {
      if (auto ok = simple_form(); !ok) return std::unexpected(ok.error());
    } else if (auto ok = full_form(); !ok) {
      return std::unexpected(ok.error());
    }
    if (pos_ != words_.size()) return fail("unexpected " + q(words_[pos_]) + " after the rule");
    return finish();
  }

 private:
  static bool is_keyword(std::string_view w) {
    return w == "from" || w == "to" || w == "proto" || w == "port" || w == "comment" || w == "on";
  }
  bool at(std::string_view w) const { return pos_ < words_.size() && words_[pos_] == w; }
  static std::unexpected<std::string> fail(std::string m) { return std::unexpected(std::move(m)); }

  std::expected<std::string, std::string> value(std::string_view keyword, std::string_view what) {
    ++pos_;
    if (pos_ >= words_.size()) {
      return fail(std::string(keyword) + " needs " + std::string(what) + ", got nothing");
    }
    return words_[pos_++];
  }

  // `allow 22/tcp`, `allow 8000:8100/udp`, `allow http`, `allow 80,443/tcp`.
  std::expected<void, std::string> simple_form() {
    const std::string word = words_[pos_++];
    std::string ports = word;
    if (const auto slash = word.find('/'); slash != std::string::npos) {
      auto proto = proto_of(word.substr(slash + 1));
      if (!proto || *proto == Proto::icmp || *proto == Proto::any) {
        return fail("expected PORT/tcp or PORT/udp, got " + q(word));
      }
      rule_.proto = *proto;
      ports = word.substr(0, slash);
    }
    port_text_ = ports;
    if (at("comment")) {
      auto c = value("comment", "a text");
      if (!c) return std::unexpected(c.error());
      rule_.comment = *c;
    }
    return {};
  }

  // [proto P] [from ADDR [port P]] [to ADDR [port P]] [comment C], in any order.
  std::expected<void, std::string> full_form() {
    while (pos_ < words_.size()) {
      const std::string& w = words_[pos_];
      if (w == "proto") {
        auto p = value("proto", "tcp, udp, icmp or any");
        if (!p) return std::unexpected(p.error());
        auto proto = proto_of(*p);
        if (!proto) return fail("proto must be tcp, udp, icmp or any, got " + q(*p));
        rule_.proto = *proto;
      } else if (w == "from" || w == "to") {
        const bool from = w == "from";
        auto a = value(w, "an address, a network or any");
        if (!a) return std::unexpected(a.error());
        (from ? from_text_ : to_text_) = *a;
        if (at("port")) {
          auto p = value("port", "a port, a range a:b, a list or a service name");
          if (!p) return std::unexpected(p.error());
          (from ? from_port_text_ : port_text_) = *p;
        }
      } else if (w == "port") {
        return fail("port belongs after from ADDR or to ADDR (e.g. to any port 22)");
      } else if (w == "comment") {
        auto c = value("comment", "a text");
        if (!c) return std::unexpected(c.error());
        rule_.comment = *c;
      } else if (w == "log") {
        rule_.log = true;
        ++pos_;
      } else {
        return fail("unexpected " + q(w) + "; expected proto, from, to, comment or log");
      }
    }
    return {};
  }

  std::expected<void, std::string> address(const std::string& text, AddressMatch& out,
                                           CompactText& shown) {
    shown = text;
    if (text == "any") return {};
    if (!text.empty() && text[0] == '@') {
      return fail("address sets (" + q(text) +
                  ") are defined in the rules file, not on the "
                  "command line");
    }
    auto cidr = parse_cidr(text);
    if (!cidr) return fail(cidr.error());
    out.any = false;
    out.prefixes = {*cidr};
    return {};
  }

  std::expected<Rule, std::string> finish() {
    if (auto ok = address(from_text_, rule_.from, rule_.from_text); !ok)
      return std::unexpected(ok.error());
    if (auto ok = address(to_text_, rule_.to, rule_.to_text); !ok)
      return std::unexpected(ok.error());
    if (auto ok = check_comment(rule_.comment); !ok) return fail(ok.error());
    const bool has_ports = !port_text_.empty() || !from_port_text_.empty();
    if (has_ports && rule_.proto == Proto::icmp) {
      return fail("a port needs proto tcp, udp or any; ICMP has no ports");
    }
    for (auto [text, match, shown] :
         {std::tuple{&port_text_, &rule_.port, &rule_.port_text},
          std::tuple{&from_port_text_, &rule_.from_port, &rule_.from_port_text}}) {
      if (text->empty()) continue;
      auto ports = parse_ports(*text, rule_.proto);
      if (!ports) return fail(ports.error());
      *match = std::move(*ports);
      *shown = *text;
    }
    return rule_;
  }

  std::span<const std::string> words_;
  bool route_ = false;
  std::size_t pos_ = 0;
  Rule rule_;
  std::string from_text_ = "any", to_text_ = "any", port_text_, from_port_text_;
};

std::expected<RuleCommand, std::string> with_rule(RuleCommand c,
                                                  std::span<const std::string> words) {
  auto rule = RuleWords(words, c.route).parse();
  if (!rule) return std::unexpected(rule.error());
  c.rule = std::move(*rule);
  return c;
}

// The command after `route` (route = true), or the whole command.
std::expected<RuleCommand, std::string> parse_command(std::span<const std::string> words,
                                                      bool route);

}  // namespace

std::expected<RuleCommand, std::string> parse_rule_command(std::span<const std::string> words) {
  if (words.empty()) return std::unexpected(std::string("expected a command, got nothing"));
  const std::string& verb = words[0];
  if (verb == "route") {
    // ufw's `route [delete] [insert N] allow|deny|reject|limit ...`: a rule for routed traffic.
    const std::string_view next = words.size() > 1 ? std::string_view(words[1]) : "";
    if (!action_of(next) && next != "insert" && next != "prepend" && next != "delete") {
      return std::unexpected(
          "route needs allow, deny, reject, limit, insert, prepend or delete, got " +
          (next.empty() ? std::string("nothing") : q(next)));
    }
    return parse_command(words.subspan(1), true);
  }
  return parse_command(words, false);
}

namespace {

std::expected<RuleCommand, std::string> parse_command(std::span<const std::string> words,
                                                      bool route) {
  const std::string& verb = words[0];
  RuleCommand c;
  c.route = route;
  if (action_of(verb)) return with_rule(c, words);
  if (verb == "insert") {
    if (words.size() < 2)
      return std::unexpected(std::string("insert needs a rule number and a rule"));
    auto n = rule_number(words[1], "insert");
    if (!n) return std::unexpected(n.error());
    c.kind = RuleCommand::Kind::insert;
    c.number = *n;
    return with_rule(c, words.subspan(2));
  }
  if (verb == "prepend") {
    c.kind = RuleCommand::Kind::prepend;
    return with_rule(c, words.subspan(1));
  }
  if (verb == "delete") {
    if (words.size() < 2)
      return std::unexpected(std::string("delete needs a rule number or a rule"));
    if (!action_of(words[1])) {
      auto n = rule_number(words[1], "delete");
      if (!n) return std::unexpected(n.error());
      if (words.size() > 2)
        return std::unexpected("unexpected " + q(words[2]) + " after delete " + words[1]);
      c.kind = RuleCommand::Kind::delete_number;
      c.number = *n;
      return c;
    }
    c.kind = RuleCommand::Kind::delete_rule;
    return with_rule(c, words.subspan(1));
  }
  if (verb == "default") {
    c.kind = RuleCommand::Kind::set_default;
    if (words.size() < 2)
      return std::unexpected(std::string("default needs allow, deny or reject"));
    auto a = action_of(words[1]);
    if (!a || *a == Action::limit) {
      return std::unexpected("default must be allow, deny or reject, got " + q(words[1]));
    }
    c.default_action = *a;
    if (words.size() >= 3) {
      if (words[2] == "incoming") {
        c.default_direction = Direction::in;
      } else if (words[2] == "outgoing") {
        c.default_direction = Direction::out;
      } else if (words[2] == "routed") {
        c.default_direction = Direction::route;
      } else {
        return std::unexpected("expected incoming, outgoing or routed, got " + q(words[2]));
      }
    }
    if (words.size() > 3)
      return std::unexpected("unexpected " + q(words[3]) + " after the default");
    return c;
  }
  if (verb == "forward") {
    if (words.size() >= 2 && words[1] == "delete") {
      if (words.size() == 3 && !words[2].empty() &&
          std::isdigit(static_cast<unsigned char>(words[2][0]))) {
        auto n = rule_number(words[2], "forward delete");
        if (!n) return std::unexpected(n.error());
        c.kind = RuleCommand::Kind::delete_forward_number;
        c.number = *n;
        return c;
      }
      auto f = parse_forward(words.subspan(2));
      if (!f) return std::unexpected(f.error());
      c.kind = RuleCommand::Kind::delete_forward;
      c.forward = std::move(*f);
      return c;
    }
    auto f = parse_forward(words.subspan(1));
    if (!f) return std::unexpected(f.error());
    c.kind = RuleCommand::Kind::add_forward;
    c.forward = std::move(*f);
    return c;
  }
  return std::unexpected(
      "unknown command " + q(verb) +
      "; expected allow, deny, reject, limit, insert, prepend, delete, default, forward or route");
}

}  // namespace

std::string rule_words(const Rule& r) {
  std::string s;
  if (r.direction == Direction::route) {
    s = std::string("route ") + to_string(r.action);
    if (!r.interface.empty()) s += " in on " + r.interface;
    if (!r.out_interface.empty()) s += " out on " + r.out_interface;
  } else {
    s = std::string(to_string(r.action)) + " " + to_string(r.direction);
    if (!r.interface.empty()) s += " on " + r.interface;
  }
  if (r.log) s += " log";
  if (r.proto != Proto::any) s += std::string(" proto ") + to_string(r.proto);
  s += " from " + r.from_text;
  if (!r.from_port_text.empty()) s += " port " + r.from_port_text;
  s += " to " + r.to_text;
  if (!r.port_text.empty()) s += " port " + r.port_text;
  if (!r.comment.empty()) s += " comment '" + r.comment + "'";
  return s;
}

}  // namespace portwall
