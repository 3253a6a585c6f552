// The words of a rule, one by one: addresses and prefixes, ports, interface names.
#include "rules/rule_values.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

IpAddress ip(const char* text) { return *parse_ip_address(text); }

// CIDR

TEST(ParseCidr, Ipv4PrefixKeepsNetworkAndLength) {
  auto c = parse_cidr("192.0.2.0/24");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->network, ip("192.0.2.0"));
  EXPECT_EQ(c->prefix_length, 24);
  EXPECT_EQ(to_string(*c), "192.0.2.0/24");
}

TEST(ParseCidr, Ipv4PrefixContainsOnlyItsAddresses) {
  auto c = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("10.200.1.2")));
  EXPECT_FALSE(c->contains(ip("11.0.0.1")));
  EXPECT_FALSE(c->contains(ip("::ffff:10.0.0.1"))) << "another family never matches";
}

TEST(ParseCidr, PrefixNotOnAByteBoundary) {
  auto c = parse_cidr("198.51.100.64/26");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("198.51.100.127")));
  EXPECT_FALSE(c->contains(ip("198.51.100.128")));
  EXPECT_FALSE(c->contains(ip("198.51.100.63")));
}

TEST(ParseCidr, SingleAddressIsAHostPrefix) {
  EXPECT_EQ(parse_cidr("192.0.2.7")->prefix_length, 32);
  EXPECT_EQ(parse_cidr("2001:db8::7")->prefix_length, 128);
}

TEST(ParseCidr, ZeroLengthPrefixMatchesEveryAddressOfItsFamily) {
  auto c = parse_cidr("0.0.0.0/0");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->contains(ip("203.0.113.9")));
  EXPECT_FALSE(c->contains(ip("2001:db8::1")));
}

TEST(ParseCidr, Ipv6Prefix) {
  auto c = parse_cidr("2001:db8::/32");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->prefix_length, 32);
  EXPECT_EQ(to_string(*c), "2001:db8::/32");
  EXPECT_TRUE(c->contains(ip("2001:db8:1::5")));
  EXPECT_FALSE(c->contains(ip("2001:db9::5")));
  EXPECT_FALSE(c->contains(ip("32.1.13.184"))) << "the same first bytes, as IPv4";
}

TEST(ParseCidr, Ipv4HostBitsSetNamesTheNetworkMeant) {
  EXPECT_EQ(parse_cidr("10.1.2.3/8").error(),
            "\"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?");
  EXPECT_EQ(parse_cidr("192.0.2.130/25").error(),
            "\"192.0.2.130/25\" has host bits set; did you mean \"192.0.2.128/25\"?");
}

TEST(ParseCidr, Ipv6HostBitsSetNamesTheNetworkMeant) {
  EXPECT_EQ(parse_cidr("2001:db8::1/32").error(),
            "\"2001:db8::1/32\" has host bits set; did you mean \"2001:db8::/32\"?");
}

TEST(ParseCidr, Ipv4PrefixLongerThan32IsAnError) {
  EXPECT_EQ(parse_cidr("10.0.0.0/33").error(), "prefix length must be 0-32, got \"10.0.0.0/33\"");
}

TEST(ParseCidr, Ipv6PrefixLongerThan128IsAnError) {
  EXPECT_EQ(parse_cidr("2001:db8::/129").error(),
            "prefix length must be 0-128, got \"2001:db8::/129\"");
}

TEST(ParseCidr, PrefixLengthMustBeAWholeNumber) {
  EXPECT_EQ(parse_cidr("10.0.0.0/").error(), "prefix length must be 0-32, got \"10.0.0.0/\"");
  EXPECT_EQ(parse_cidr("10.0.0.0/8x").error(), "prefix length must be 0-32, got \"10.0.0.0/8x\"");
  EXPECT_EQ(parse_cidr("10.0.0.0/-8").error(), "prefix length must be 0-32, got \"10.0.0.0/-8\"");
}

TEST(ParseCidr, NotAnAddressSaysWhatWasExpected) {
  EXPECT_EQ(parse_cidr("ten").error(),
            "expected an address, a CIDR prefix, any or @set, got \"ten\"");
  EXPECT_EQ(parse_cidr("10.0.0.256/32").error(),
            "expected an address, a CIDR prefix, any or @set, got \"10.0.0.256/32\"");
  EXPECT_EQ(parse_cidr("").error(), "expected an address, a CIDR prefix, any or @set, got \"\"");
}

// Ports

TEST(ParsePorts, SinglePort) {
  auto p = parse_ports("22", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges, (std::vector<PortRange>{{22, 22}}));
  EXPECT_TRUE(p->matches(22));
  EXPECT_FALSE(p->matches(23));
}

TEST(ParsePorts, LowestAndHighestPort) {
  EXPECT_EQ(parse_ports("1", Proto::tcp)->ranges, (std::vector<PortRange>{{1, 1}}));
  EXPECT_EQ(parse_ports("65535", Proto::tcp)->ranges, (std::vector<PortRange>{{65535, 65535}}));
}

TEST(ParsePorts, RangeIsInclusive) {
  auto p = parse_ports("8000:8100", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges, (std::vector<PortRange>{{8000, 8100}}));
  EXPECT_TRUE(p->matches(8000));
  EXPECT_TRUE(p->matches(8100));
  EXPECT_FALSE(p->matches(7999));
  EXPECT_FALSE(p->matches(8101));
}

TEST(ParsePorts, RangeOfOnePort) {
  EXPECT_EQ(parse_ports("80:80", Proto::tcp)->ranges, (std::vector<PortRange>{{80, 80}}));
}

TEST(ParsePorts, BackwardsRangeSuggestsTheRightOrder) {
  EXPECT_EQ(parse_ports("9000:8000", Proto::tcp).error(),
            "port range \"9000:8000\" runs backwards; write 8000:9000");
}

TEST(ParsePorts, ListOfPortsAndRanges) {
  auto p = parse_ports("80,443,8000:8100", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges, (std::vector<PortRange>{{80, 80}, {443, 443}, {8000, 8100}}));
  EXPECT_TRUE(p->matches(443));
  EXPECT_TRUE(p->matches(8050));
  EXPECT_FALSE(p->matches(444));
}

TEST(ParsePorts, ServiceNameFromEtcServices) {
  auto p = parse_ports("ssh", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges, (std::vector<PortRange>{{22, 22}}));
}

TEST(ParsePorts, ServiceNamesInListsAndRanges) {
  auto p = parse_ports("http,https,ssh:telnet", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges, (std::vector<PortRange>{{80, 80}, {443, 443}, {22, 23}}));
}

TEST(ParsePorts, ProtoAnyLooksUpTcpThenUdp) {
  EXPECT_EQ(parse_ports("ssh", Proto::any)->ranges, (std::vector<PortRange>{{22, 22}}));
  // ntp is only 123/udp in /etc/services.
  EXPECT_EQ(parse_ports("ntp", Proto::any)->ranges, (std::vector<PortRange>{{123, 123}}));
}

TEST(ParsePorts, ServiceIsLookedUpForTheRulesProtocol) {
  EXPECT_EQ(parse_ports("ntp", Proto::udp)->ranges, (std::vector<PortRange>{{123, 123}}));
  EXPECT_EQ(parse_ports("ntp", Proto::tcp).error(),
            "unknown port or service \"ntp\" (expected 1-65535, a:b, a list, or a name from "
            "/etc/services)");
}

TEST(ParsePorts, UnknownServiceSaysWhatWasExpected) {
  EXPECT_EQ(parse_ports("nosuchservice", Proto::tcp).error(),
            "unknown port or service \"nosuchservice\" (expected 1-65535, a:b, a list, or a name "
            "from /etc/services)");
}

TEST(ParsePorts, PortAboveRangeIsAnError) {
  EXPECT_EQ(parse_ports("70000", Proto::tcp).error(), "port must be 1-65535, got 70000");
  EXPECT_EQ(parse_ports("65536", Proto::tcp).error(), "port must be 1-65535, got 65536");
}

TEST(ParsePorts, PortZeroIsAnError) {
  EXPECT_EQ(parse_ports("0", Proto::tcp).error(), "port must be 1-65535, got 0");
}

TEST(ParsePorts, HugeNumberIsOutOfRangeNotAServiceName) {
  EXPECT_EQ(parse_ports("99999999999999999999999", Proto::tcp).error(),
            "port must be 1-65535, got 99999999999999999999999");
}

TEST(ParsePorts, OutOfRangeEndOfARangeIsNamed) {
  EXPECT_EQ(parse_ports("8000:70000", Proto::tcp).error(), "port must be 1-65535, got 70000");
}

TEST(ParsePorts, EmptyItemIsAnError) {
  EXPECT_EQ(parse_ports("80,,81", Proto::tcp).error(), "empty item in port list \"80,,81\"");
  EXPECT_EQ(parse_ports("80,", Proto::tcp).error(), "empty item in port list \"80,\"");
  EXPECT_EQ(parse_ports("", Proto::tcp).error(), "empty item in port list \"\"");
}

TEST(ParsePorts, FifteenPortsAreAllowed) {
  auto p = parse_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15", Proto::tcp);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->ranges.size(), 15u);
}

TEST(ParsePorts, MoreThanFifteenPortsIsAnError) {
  EXPECT_EQ(parse_ports("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16", Proto::tcp).error(),
            "at most 15 ports in one rule (a range counts as 2), got 16 in "
            "\"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16\"");
}

// A hostile list (a rules file, or a 1 MiB CLI request) of 70,000 items: refused with its
// count, and never held (a rule holds at most 65,535 ranges).
TEST(ParsePorts, AHugeListIsRefusedWithItsCount) {
  std::string text = "1";
  for (int i = 1; i < 70000; ++i) text += ",1";
  const auto p = parse_ports(text, Proto::tcp);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().find("got 70000 in"), std::string::npos) << p.error().substr(0, 80);
}

TEST(ParsePorts, RangeCountsAsTwoPorts) {
  EXPECT_TRUE(parse_ports("1:2,3:4,5:6,7:8,9:10,11:12,13:14,15", Proto::tcp));
  EXPECT_EQ(parse_ports("1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16", Proto::tcp).error(),
            "at most 15 ports in one rule (a range counts as 2), got 16 in "
            "\"1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16\"");
}

TEST(PortMatch, EmptyMatchesEveryPort) {
  const PortMatch any;
  EXPECT_TRUE(any.any());
  EXPECT_TRUE(any.matches(1));
  EXPECT_TRUE(any.matches(65535));
}

// Interfaces

TEST(CheckInterface, OrdinaryNamesAreValid) {
  EXPECT_TRUE(check_interface("eth0"));
  EXPECT_TRUE(check_interface("enp0s31f6"));
  EXPECT_TRUE(check_interface("wg-office.10"));
  EXPECT_TRUE(check_interface("a"));
}

// Issue 17, point 4: `forward in on 'x";drop;#' 80 to 8080` added a drop-everything statement to
// the nftables table. Every printable byte: only letters, digits, '_', '.' and '-' pass.
TEST(CheckInterface, OnlyTheCharactersOfRealNamesPassEveryOtherByteIsRefused) {
  std::string accepted;
  for (int b = 1; b < 256; ++b) {
    const char c = static_cast<char>(b);
    if (check_interface(std::string("if") + c)) accepted += c;
  }
  EXPECT_EQ(accepted, "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz");
  EXPECT_FALSE(check_interface("x\";drop;#"));
  EXPECT_FALSE(check_interface("eth0 -j ACCEPT"));
}

TEST(CheckInterface, FifteenBytesAtMost) {
  EXPECT_TRUE(check_interface("abcdefghijklmno"));
  EXPECT_EQ(check_interface("abcdefghijklmnop").error(),
            "interface name must be 1-15 characters, got \"abcdefghijklmnop\"");
}

TEST(CheckInterface, EmptyIsAnError) {
  EXPECT_EQ(check_interface("").error(), "interface name must be 1-15 characters, got \"\"");
}

TEST(CheckInterface, DotAndDotDotAreErrors) {
  EXPECT_EQ(check_interface(".").error(), "interface name must be 1-15 characters, got \".\"");
  EXPECT_EQ(check_interface("..").error(), "interface name must be 1-15 characters, got \"..\"");
}

TEST(CheckInterface, SlashColonAndWhiteSpaceAreErrors) {
  EXPECT_EQ(check_interface("eth0:1").error(),
            "interface name \"eth0:1\" may hold only letters, digits, '_', '.' and '-'");
  EXPECT_EQ(check_interface("br/0").error(),
            "interface name \"br/0\" may hold only letters, digits, '_', '.' and '-'");
  EXPECT_EQ(check_interface("eth 0").error(),
            "interface name \"eth 0\" may hold only letters, digits, '_', '.' and '-'");
  EXPECT_EQ(check_interface("eth\t0").error(),
            "interface name \"eth\t0\" may hold only letters, digits, '_', '.' and '-'");
}

TEST(CheckInterface, ControlCharactersAreErrors) { EXPECT_FALSE(check_interface("eth\x01")); }

TEST(CheckComment, AnyUtf8TextIsAComment) {
  EXPECT_TRUE(check_comment(""));
  EXPECT_TRUE(check_comment("web, \"quoted\" and 'single'\tand a tab"));
  EXPECT_TRUE(check_comment("l\xc3\xadnea \xe2\x82\xac \xf0\x9f\x94\x92"));  // 2, 3 and 4 bytes
}

// Found by fuzz_cli_grammar: such a comment was written to the rules file and read back as other
// text (TOML strings are UTF-8).
// Found by fuzz_cli_grammar: a comment "\ne" was written as a multi-line TOML string, whose
// leading newline TOML drops, and read back as "e".
TEST(CheckComment, ControlCharactersOtherThanTabAreErrors) {
  EXPECT_EQ(check_comment("\ne").error(),
            "comment must be one line of text; byte 1 is a control character");
  EXPECT_FALSE(check_comment("a\rb"));
  EXPECT_FALSE(check_comment("a\x7f"));
  EXPECT_FALSE(check_comment(std::string_view("a\0b", 3)));
}

TEST(CheckComment, BytesThatAreNotUtf8AreErrors) {
  EXPECT_EQ(check_comment("two\xcf\xff\xff(words").error(),
            "comment must be UTF-8 text; byte 4 is not");
  EXPECT_FALSE(check_comment("\xff"));
  EXPECT_FALSE(check_comment("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(check_comment("\xed\xa0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(check_comment("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(check_comment("ab\xe2\x82"));        // cut short
}

}  // namespace
}  // namespace portwall
