// usage.h — the words `portwall --help` and `portwall COMMAND --help` print: ufw(8)'s synopsis
// and examples, so that the help reads like the man page administrators already know.
#pragma once

namespace portwall::usage {

inline constexpr const char* kRuleSynopsis = R"(
Rule grammar (as ufw):
  [in|out [on IFACE]] [log] PORT[/tcp|/udp] | SERVICE [comment TEXT]
  [in|out [on IFACE]] [log] [proto tcp|udp|icmp|any] [from ADDR [port PORTS]]
                             [to ADDR [port PORTS]] [comment TEXT]
  ADDR is any, an IPv4 or IPv6 address, or a network (10.0.0.0/8, 2001:db8::/32).
  PORTS is 22, 8000:8100, 80,443 (at most 15, a range counting as 2) or a service name.
  Without a protocol a port means tcp and udp; without in/out a rule is for incoming.
Forwards: forward [in on IFACE] PORT[/tcp|/udp] to PORT|ADDR|ADDR:PORT [comment TEXT],
  forward delete N, forward list. The rules judge forwarded connections by PORT.
Routed traffic: route allow|deny|reject|limit [in on IFACE] [out on IFACE] RULE, route delete N,
  route insert N ..., default allow|deny|reject routed (judged only once one is given).)";

inline constexpr const char* kFooter = R"(
Examples:
  portwall allow 22/tcp
  portwall allow http
  portwall allow from 10.0.0.0/8 to any port 5432 proto tcp comment "db"
  portwall deny in on eth0 from 203.0.113.0/24
  portwall reject out to any port 25 proto tcp
  portwall limit ssh
  portwall insert 1 deny from 198.51.100.7
  portwall prepend reject from 198.51.100.7
  portwall status numbered
  portwall metrics
  portwall ports
  portwall mode monitor
  portwall forward 80/tcp to 8080
  portwall forward in on eth0 443/tcp to 10.0.0.5:8443
  portwall forward delete 1
  portwall route allow in on eth0 out on br0 to 172.18.0.2 port 80 proto tcp
  portwall route allow in on wg0 out on eth0
  portwall route delete 4
  portwall default deny routed
  portwall apply new-rules.toml --confirm 60s
  portwall confirm
  portwall deny 8080/tcp --keep-established
  portwall delete 3
  portwall delete allow 22/tcp
  portwall default deny incoming
  portwall explain tcp 203.0.113.9:40000 to 192.0.2.1:22       ('->' quoted works too)
  portwall conntrack list
  portwall blocked add 203.0.113.9 for 1h
  portwall blocked remove 203.0.113.9
  portwall knock server.example.org 7000 8000/udp 9000
  portwall knock --spa --key-file ~/.portwall-spa.key server.example.org

Changes go to the running portwalld (and its rules file) at once; with no daemon running
they edit the rules file (--rules, else the configuration's: --config, default
/etc/portwall/portwall.toml) and are audited as offline. Established connections a change or a block denies are
cut, unless --keep-established. Options may also follow the command (status --json).
Exit status: 0 ok, 1 bad input, usage error or refused change, 2 daemon unreachable,
3 not authorized.)";

}  // namespace portwall::usage
