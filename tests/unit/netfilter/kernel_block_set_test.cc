// The kernel set of blocks in ipset's and nft's words: the changes, and the counters read back.
#include "netfilter/kernel_block_set.h"

#include <gtest/gtest.h>

#include "rules/rule_values.h"

namespace portwall {
namespace {

Cidr cidr(const char* text) { return *parse_cidr(text); }

BlockSetChanges some_changes() {
  BlockSetChanges c;
  c.add = {
      {cidr("203.0.113.9/32"), 600}, {cidr("198.51.100.0/24"), 0}, {cidr("2001:db8:1::/64"), 30}};
  c.remove = {cidr("192.0.2.1/32"), cidr("2001:db8::9/128")};
  return c;
}

TEST(IpsetBlockSet, OneHashNetSetPerFamilyWithTimeoutsCountersAndRoom) {
  EXPECT_EQ(ipset_create_args(kIpsetBlock6, true, 200000),
            (std::vector<std::string>{"portwall-block6", "hash:net", "family", "inet6", "timeout",
                                      "0", "counters", "maxelem", "200000"}));
}

TEST(IpsetBlockSet, ChangesAreOneRestoreBatchDeletionsFirst) {
  EXPECT_EQ(ipset_changes_script(some_changes()),
            "del portwall-block4 192.0.2.1\n"
            "del portwall-block6 2001:db8::9\n"
            "add portwall-block4 203.0.113.9 timeout 600\n"
            "add portwall-block4 198.51.100.0/24 timeout 0\n"
            "add portwall-block6 2001:db8:1::/64 timeout 30\n");
}

TEST(IpsetBlockSet, CountersAreReadFromItsSaveListing) {
  const auto counts = parse_ipset_save(
      "create portwall-block4 hash:net family inet hashsize 1024 maxelem 200000 timeout 0 "
      "counters bucketsize 12 initval 0x170d9134\n"
      "add portwall-block4 203.0.113.9 timeout 29 packets 12 bytes 720\n"
      "add portwall-block4 198.51.100.0/24 timeout 0 packets 0 bytes 0\n"
      "add portwall-block6 2001:db8:1::/64 timeout 3 packets 18446744073709551615 bytes 1\n"
      "add portwall-block4 not-an-address timeout 3 packets 5 bytes 1\n"
      "garbage\n");
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].range, cidr("203.0.113.9/32"));
  EXPECT_EQ(counts[0].packets, 12u);
  EXPECT_EQ(counts[1].range, cidr("198.51.100.0/24"));
  EXPECT_EQ(counts[1].packets, 0u);
  EXPECT_EQ(counts[2].range, cidr("2001:db8:1::/64"));
  EXPECT_EQ(counts[2].packets, 18446744073709551615u);
}

TEST(NftBlockSet, ChangesAreElementCommandsPerSet) {
  const BlockSetChanges c = some_changes();
  EXPECT_EQ(nft_block_adds(c),
            "add element inet portwall block4 { 203.0.113.9 timeout 600s, 198.51.100.0/24 }\n"
            "add element inet portwall block6 { 2001:db8:1::/64 timeout 30s }\n");
  EXPECT_EQ(nft_block_deletes(c.remove),
            "delete element inet portwall block4 { 192.0.2.1 }\n"
            "delete element inet portwall block6 { 2001:db8::9 }\n");
  EXPECT_EQ(nft_block_adds({}), "");
}

TEST(NftBlockSet, CountersAreReadFromItsJsonListing) {
  // As nft 1.0.6 (Debian 12) prints `nft -j list set inet portwall block4`.
  const auto counts = parse_nft_set_json(
      R"({"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, )"
      R"({"set": {"family": "inet", "name": "block4", "table": "portwall", "type": "ipv4_addr", )"
      R"("handle": 3, "size": 200000, "flags": ["interval", "timeout"], "elem": [)"
      R"({"elem": {"val": "10.200.9.7", "timeout": 50, "expires": 49, "counter": )"
      R"({"packets": 7, "bytes": 420}}}, {"elem": {"val": {"prefix": {"addr": "10.200.11.0", )"
      R"("len": 24}}, "counter": {"packets": 0, "bytes": 0}}}], "stmt": [{"counter": null}]}}]})");
  ASSERT_TRUE(counts) << counts.error();
  ASSERT_EQ(counts->size(), 2u);
  EXPECT_EQ((*counts)[0].range, cidr("10.200.9.7/32"));
  EXPECT_EQ((*counts)[0].packets, 7u);
  EXPECT_EQ((*counts)[1].range, cidr("10.200.11.0/24"));
  EXPECT_FALSE(parse_nft_set_json("not json"));
  const auto empty = parse_nft_set_json(R"({"nftables": [{"set": {"name": "block6"}}]})");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace portwall
