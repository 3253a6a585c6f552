#include "cli/status_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace portwall {
namespace {

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string where_to(const nlohmann::json& r) {
  const std::string port = r.value("port", "any");
  const std::string proto = r.value("proto", "any");
  const std::string to = r.value("to", "any");
  std::string text = to == "any" ? "" : to;
  if (port != "any") {
    if (!text.empty()) text += " ";
    text += port + (proto != "any" ? "/" + proto : "");
  } else if (proto != "any") {
    text += (text.empty() ? "" : " ") + std::string("(") + proto + ")";
  }
  if (text.empty()) text = "Anywhere";
  // As ufw: a route rule's outgoing interface on the To side, its incoming one on the From side.
  const char* key = r.value("direction", "in") == "route" ? "out_interface" : "interface";
  if (r.contains(key)) text += " on " + r[key].get<std::string>();
  return text;
}

std::string where_from(const nlohmann::json& r) {
  const std::string from = r.value("from", "any");
  std::string text = from == "any" ? "Anywhere" : from;
  if (r.contains("from_port")) text += " port " + r["from_port"].get<std::string>();
  if (r.value("direction", "in") == "route" && r.contains("interface")) {
    text += " on " + r["interface"].get<std::string>();
  }
  return text;
}

}  // namespace

// "CrowdSec: 1204 block(s) from http://…, last pull 2026-…Z (3.1s ago)" and, when failing, the
// error; the source's pushes when it is one.
static std::string render_crowdsec(const nlohmann::json& cs) {
  auto text = [](const nlohmann::json& j, const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  std::string out =
      fmt::format("CrowdSec: {} block(s) from {}, ", cs.value("blocks", 0), text(cs, "lapi_url"));
  if (cs.contains("lag_seconds") && cs["lag_seconds"].is_number()) {
    out += fmt::format("last pull {} ({:.1f}s ago)", text(cs, "last_pull"),
                       cs["lag_seconds"].get<double>());
  } else {
    out += "no pull yet";
  }
  out += "\n";
  if (!text(cs, "last_error").empty()) {
    out += fmt::format("CrowdSec: failing ({} pull(s) in a row): {}\n",
                       cs.value("failing_in_a_row", 0), text(cs, "last_error"));
  }
  if (cs.contains("source") && cs["source"].is_object()) {
    const auto& src = cs["source"];
    out += fmt::format("CrowdSec source: {} alert(s) pushed, {} waiting",
                       src.value("alerts_pushed", 0), src.value("alerts_waiting", 0));
    if (!text(src, "last_error").empty()) out += ", failing: " + text(src, "last_error");
    out += "\n";
  }
  return out;
}

std::string render_status(const nlohmann::json& s, StatusStyle style) {
  std::string out = fmt::format("Status: active ({})\n", s.value("mode", "enforce"));
  if (style == StatusStyle::verbose) {
    const auto& d = s["defaults"];
    out += fmt::format("Default: {} (incoming), {} (outgoing), {} (routed)\n",
                       d.value("incoming", "?"), d.value("outgoing", "?"),
                       d.value("routed", "disabled"));
    out += fmt::format("Backend: {}, queues {}\n", s.value("backend", "?"), s["queues"].dump());
    out += fmt::format("Rules: {}\n", s.value("rules_file", "?"));
  }
  const auto& rules = s["rules"];
  if (!rules.empty()) {
    const char* pad = style == StatusStyle::numbered ? "     " : "";
    out += fmt::format("\n{}{:<27}{:<12}{}\n", pad, "To", "Action", "From");
    out += fmt::format("{}{:<27}{:<12}{}\n", pad, "--", "------", "----");
    for (const auto& r : rules) {
      const std::string number =
          style == StatusStyle::numbered ? fmt::format("[{:2}] ", r.value("number", 0)) : "";
      std::string action = upper(r.value("action", "?"));
      const std::string direction = r.value("direction", "in");
      action += direction == "out" ? " OUT" : direction == "route" ? " FWD" : " IN";
      std::string line =
          fmt::format("{}{:<26} {:<11} {}", number, where_to(r), action, where_from(r));
      if (style == StatusStyle::verbose) {
        line += fmt::format("  ({} pkts, {} bytes)", r.value("packets", 0), r.value("bytes", 0));
      }
      if (!r.value("comment", "").empty()) line += "  # " + r.value("comment", "");
      out += line + "\n";
    }
  }
  const auto& c = s["counters"];
  out += render_forwards(s.value("forwards", nlohmann::json::array()));
  if (s.contains("published") && s["published"].is_array() && !s["published"].empty()) {
    out += "\nPublished by other tools (Docker), judged as this host's port:\n";
    for (const auto& p : s["published"]) out += "  " + p.value("words", "?") + "\n";
  }
  if (s.contains("forwarding_problem") && s["forwarding_problem"].is_string()) {
    out += "Forwarding: " + s["forwarding_problem"].get<std::string>() + "\n";
  }
  const auto& ct = s["conntrack"];
  out += fmt::format("\nConnections: {} of {}\n", ct.value("entries", 0), ct.value("max", 0));
  out += fmt::format("Packets: {} accepted, {} dropped, {} rejected", c.value("accepted", 0),
                     c.value("dropped", 0), c.value("rejected", 0));
  if (c.contains("uninspected") && c["uninspected"].is_number()) {
    out += fmt::format(", {} uninspected", c["uninspected"].get<std::uint64_t>());
  }
  // Faults are never silent: packets the kernel dropped for a full queue, log lines lost.
  if (s.contains("queue") && s["queue"].is_object()) {
    const auto& q = s["queue"];
    const auto full = q.value("dropped_full", std::uint64_t{0}) +
                      q.value("dropped_socket_full", std::uint64_t{0});
    if (full > 0) out += fmt::format(", {} dropped by a full queue", full);
  }
  out += "\n";
  // Monitor mode: what enforcement would have stopped went through.
  if (s.value("mode", "enforce") == "monitor") {
    out += fmt::format("Monitor mode: {} packet(s) let through that enforce mode would stop\n",
                       c.value("monitor_passed", std::uint64_t{0}));
  }
  if (s.contains("log") && s["log"].is_object()) {
    const auto& l = s["log"];
    const auto ring = l.value("lost", std::uint64_t{0});
    const auto disk =
        l.value("write_failed", std::uint64_t{0}) + l.value("audit_write_failed", std::uint64_t{0});
    if (ring + disk > 0) {
      out += fmt::format("Log: {} line(s) lost ({} writer behind, {} refused by the disk)\n",
                         ring + disk, ring, disk);
    }
  }
  if (s.contains("crowdsec") && s["crowdsec"].is_object()) out += render_crowdsec(s["crowdsec"]);
  if (s.contains("pending_confirmation") && s["pending_confirmation"].is_object()) {
    const auto& p = s["pending_confirmation"];
    out += fmt::format(
        "Pending: the rules applied from {} by {} roll back in {}s ({}) unless `portwall "
        "confirm`\n",
        p.value("file", "?"), p.value("applied_by", "?"), p.value("seconds_left", 0),
        p.value("rolls_back_at", "?"));
  }
  if (s.contains("pending_enable") && s["pending_enable"].is_object()) {
    const auto& p = s["pending_enable"];
    out += fmt::format(
        "Pending: the firewall that {} enabled stops again in {}s ({}) unless `portwall confirm`\n",
        p.value("enabled_by", "?"), p.value("seconds_left", 0), p.value("stops_at", "?"));
  }
  if (style == StatusStyle::verbose && s.contains("defenses"))
    out += render_defenses(s["defenses"]);
  return out;
}

std::string render_defenses(const nlohmann::json& d) {
  auto n = [](const nlohmann::json& j, const char* key) { return j.value(key, std::uint64_t{0}); };
  const auto& scan = d["scan"];
  const auto& blocks = d["blocks"];
  const auto& sources = d["sources"];
  const auto& limits = d["limits"];
  const auto& knock = d["knock"];
  std::string out = "\nDefenses:\n";
  out += fmt::format("  scan detection: {}, {} source(s) blocked, {} packet(s) dropped\n",
                     scan.value("enabled", false) ? "on" : "off", n(scan, "sources_blocked"),
                     n(scan, "packets_dropped"));
  out += fmt::format("  block list: {} of {} ({} evicted)\n", n(blocks, "entries"),
                     n(blocks, "max"), n(blocks, "evicted"));
  if (const auto k = blocks.find("in_kernel"); k != blocks.end() && k->is_object()) {
    const std::string problem = k->value("problem", "");
    out += problem.empty() ? fmt::format("  in the kernel: {} block(s), {} packet(s) dropped\n",
                                         n(*k, "entries"), n(*k, "packets_dropped"))
                           : fmt::format("  in the kernel: none ({})\n", problem);
  }
  out += fmt::format("  sources tracked: {} of {} ({} evicted)\n", n(sources, "entries"),
                     n(sources, "max"), n(sources, "evicted"));
  out += fmt::format(
      "  limits: {} dropped by limit rules, {} by new_connections, {} by "
      "max_connections_per_source\n",
      n(limits, "rule_rate_drops"), n(limits, "source_rate_drops"),
      n(limits, "source_connection_drops"));
  std::string doors;
  for (const auto& name : knock.value("doors", nlohmann::json::array())) {
    doors += (doors.empty() ? "" : ", ") + name.get<std::string>();
  }
  out += fmt::format(
      "  knocks ({}): {} packet(s), {} opened, {} failed, SPA {} opened, {} rejected, {} "
      "replayed; {} connection(s) let in\n",
      doors.empty() ? "none configured" : doors, n(knock, "packets"), n(knock, "opened"),
      n(knock, "failed"), n(knock, "spa_opened"), n(knock, "spa_rejected"),
      n(knock, "spa_replayed"), n(knock, "connections_let_in"));
  return out;
}

std::string render_forwards(const nlohmann::json& forwards) {
  if (!forwards.is_array() || forwards.empty()) return "";
  std::string out =
      "\n     Forward                    To                                 On\n"
      "     -------                    --                                 --\n";
  for (const auto& f : forwards) {
    const std::string proto = f.value("proto", "any");
    const std::string from =
        std::to_string(f.value("port", 0)) + (proto == "any" ? "" : "/" + proto);
    const bool redirect = f.value("kind", "") == "redirect";
    const std::string to =
        redirect ? "port " + f.value("to", "") + " here" : f.value("to", "") + " (masqueraded)";
    std::string line = fmt::format("{:<26} {:<34} {}", from, to, f.value("interface", "any"));
    if (!f.value("comment", "").empty()) line += "  # " + f.value("comment", "");
    out += fmt::format("[{:2}] ", f.value("number", 0)) + line + "\n";
  }
  return out;
}

std::string render_connections(const nlohmann::json& c) {
  if (!c.is_object()) return "";
  const auto cut = c.value("cut", std::uint64_t{0});
  const auto kept = c.value("kept", std::uint64_t{0});
  const auto restored = c.value("restored", std::uint64_t{0});
  std::string out;
  if (cut) {
    out += fmt::format(
        "Cut {} established connection(s) now denied (kernel conntrack entries "
        "ended: {})\n",
        cut, c.value("kernel_entries_ended", std::uint64_t{0}));
  }
  if (kept) out += fmt::format("Kept {} established connection(s) now denied\n", kept);
  if (restored) out += fmt::format("Restored {} connection(s) cut earlier\n", restored);
  return out;
}

std::string render_flows(const nlohmann::json& flows) {
  std::string out;
  for (const auto& f : flows) {
    out += fmt::format(
        "{:<6} {:<12} src={} dst={} sport={} dport={} packets={} bytes={} "
        "rule={} expires={}{}{}\n",
        f.value("proto", "?"), f.value("state", "-"), f.value("src", "?"), f.value("dst", "?"),
        f.value("sport", 0), f.value("dport", 0), f.value("packets", 0), f.value("bytes", 0),
        f.value("rule", 0), f.value("expires_in", "?"),
        f.value("replied", false) ? "" : " [UNREPLIED]", f.value("cut", false) ? " [CUT]" : "");
  }
  return out;
}

}  // namespace portwall
