// The compact parts of a rule (issue 20, 2): CompactText, CidrList and PortRanges behave as the
// strings and vectors they replaced, and a rule of the usual shapes holds no memory of its own
// beyond its place in the rules vector.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "memory_file_system.h"
#include "rules/compact_text.h"
#include "rules/rule.h"
#include "rules/rule_loader.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

TEST(CompactText, HoldsEveryLengthAroundItsInPlaceLimit) {
  for (std::size_t n : {0, 1, 14, 15, 16, 17, 100, 5000}) {
    const std::string s(n, 'x');
    CompactText t = s;
    EXPECT_EQ(t, s) << n;
    EXPECT_EQ(t.size(), n);
    EXPECT_EQ(t.empty(), n == 0);
    CompactText copy = t;
    EXPECT_EQ(copy, s) << n;
    CompactText moved = std::move(copy);
    EXPECT_EQ(moved, s) << n;
    EXPECT_TRUE(copy.empty());  // NOLINT: a moved-from text is empty, as documented
    CompactText target = "another text, long enough to be shared";
    target = std::move(moved);
    EXPECT_EQ(target, s) << n;
    EXPECT_TRUE(moved.empty());  // NOLINT: moved from
    moved = std::move(target);
    CompactText assigned = "other";
    assigned = moved;
    EXPECT_EQ(assigned, s) << n;
    CompactText& same = assigned;
    assigned = same;  // self-assignment keeps the text
    EXPECT_EQ(assigned, s) << n;
    EXPECT_EQ(std::hash<CompactText>{}(t), std::hash<std::string_view>{}(s));
  }
}

TEST(CompactText, ComparesConcatenatesAndConvertsAsAString) {
  const CompactText a = "eth0", b = "an interface name of more than fifteen bytes";
  EXPECT_EQ(a, "eth0");
  EXPECT_EQ(a, std::string("eth0"));
  EXPECT_FALSE(a == b);
  EXPECT_LT(b, a);  // as strings: "an ..." before "eth0"
  EXPECT_EQ(" on " + a, " on eth0");
  EXPECT_EQ(b + "!", std::string(b.view()) + "!");
  EXPECT_EQ(a.str(), "eth0");
  const std::string_view view = b;
  EXPECT_EQ(view, "an interface name of more than fifteen bytes");
}

// Copies of one long text share its block: the last one to go frees it, from any thread.
TEST(CompactText, SharedBlocksSurviveCopiesDroppedOnOtherThreads) {
  const std::string long_text(64, 'p');
  std::vector<CompactText> texts(1000, CompactText(long_text));
  std::thread a([copies = texts]() mutable { copies.clear(); });
  std::thread b([copies = texts]() mutable { copies.clear(); });
  texts.resize(10);
  a.join();
  b.join();
  for (const CompactText& t : texts) EXPECT_EQ(t, long_text);
}

Cidr cidr(const char* text) { return *parse_cidr(text); }

TEST(CidrList, HoldsOnePrefixInPlaceAndSharesLongerLists) {
  const CidrList none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.begin(), none.end());

  const CidrList one = {cidr("192.0.2.0/24")};
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], cidr("192.0.2.0/24"));
  EXPECT_EQ(one.identity(), nullptr);  // in place: nothing shared
  CidrList one_copy = one;
  EXPECT_EQ(one_copy, one);
  EXPECT_FALSE(one_copy.shares_with(one));

  const std::vector<Cidr> prefixes = {cidr("10.0.0.0/8"), cidr("2001:db8::/32"),
                                      cidr("198.51.100.7/32")};
  const CidrList many = prefixes;
  EXPECT_EQ(many, prefixes);
  CidrList copy = many;
  EXPECT_TRUE(copy.shares_with(many));
  CidrList moved = std::move(copy);
  EXPECT_TRUE(moved.shares_with(many));
  EXPECT_TRUE(copy.empty());  // NOLINT: moved from
  moved = one;
  EXPECT_EQ(moved, one);
  EXPECT_FALSE(moved == many);
}

TEST(PortRanges, GrowsOutOfPlaceAndCopiesAsAVector) {
  PortRanges ranges;
  std::vector<PortRange> model;
  for (std::uint16_t p = 1; p <= 40; ++p) {
    ranges.push_back({p, static_cast<std::uint16_t>(p + 1)});
    model.push_back({p, static_cast<std::uint16_t>(p + 1)});
    ASSERT_EQ(ranges, model) << p;
    PortRanges copy = ranges;
    EXPECT_EQ(copy, model) << p;
    PortRanges moved = std::move(copy);
    EXPECT_EQ(moved, model) << p;
    EXPECT_TRUE(copy.empty());  // NOLINT: moved from
    moved = PortRanges{{80, 80}};
    EXPECT_EQ(moved, (std::vector<PortRange>{{80, 80}}));
  }
  ranges[0].last = 9;
  EXPECT_EQ(ranges[0].last, 9);
}

void escape(char* p) { __asm__ volatile("" : : "g"(p) : "memory"); }

std::size_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// 3,000 rules of the shapes a large rules file is made of (a fail2ban-style deny from an
// address, a service port, a network to a database port) hold their rules vector and nothing
// else: each used to carry 120 bytes of heap blocks besides (its prefix list, its port list).
TEST(RuleMemory, UsualRulesHoldNothingBeyondTheirPlace) {
  std::string text = "[defaults]\nincoming = \"deny\"\n";
  for (int i = 0; i < 3000; ++i) {
    switch (i % 3) {
      case 0:
        text += "[[rule]]\naction = \"deny\"\nfrom = \"198.18." + std::to_string(i / 256) + "." +
                std::to_string(i % 256) + "\"\n";
        break;
      case 1:
        text += "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"" +
                std::to_string(10000 + i) + "\"\n";
        break;
      default:
        text += "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nfrom = \"10." +
                std::to_string(i / 256) + "." + std::to_string(i % 256) +
                ".0/24\"\nport = \"5432\"\n";
    }
  }
  {
    // Under the sanitizers malloc is theirs, and mallinfo2 sees none of it: nothing to measure.
    const std::size_t at = heap_in_use();
    auto probe = std::make_unique<char[]>(1 << 20);
    escape(probe.get());
    if (heap_in_use() - at < (1 << 20)) GTEST_SKIP() << "mallinfo2 does not see this allocator";
  }
  MemoryFileSystem fs;
  // A path longer than a text held in place: every rule's origin shares one block.
  fs.write("/etc/portwall/a-long-folder-name/rules.toml", text);
  const std::size_t before = heap_in_use();
  auto loaded = load_rules("/etc/portwall/a-long-folder-name/rules.toml", {}, nullptr, fs);
  ASSERT_TRUE(loaded.has_value());
  ASSERT_EQ(loaded->rules.size(), 3000u);
  const std::size_t held = heap_in_use() - before;
  const double per_rule = static_cast<double>(held) / 3000.0;
  std::printf("[ figure ] %.0f bytes per rule loaded (sizeof(Rule) %zu)\n", per_rule, sizeof(Rule));
  // The slack: what malloc's per-thread caches hold besides (they count as in use).
  EXPECT_LE(per_rule, sizeof(Rule) + 16.0) << "sizeof(Rule) = " << sizeof(Rule);
  EXPECT_EQ(loaded->rules[1].port_text, "10001");
  EXPECT_EQ(loaded->rules[2].from_text, "10.0.2.0/24");
}

}  // namespace
}  // namespace portwall
