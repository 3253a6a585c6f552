// Durations as administrators write them: a whole number and exactly one unit.
#include "rules/duration.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

std::string expected_a_duration(std::string_view text) {
  return "expected a duration like \"30s\" (a whole number and one of ms, s, m, h, d), got \"" +
         std::string(text) + "\"";
}

TEST(ParseDuration, MillisecondsSecondsMinutesHoursAndDays) {
  EXPECT_EQ(parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(parse_duration("30s"), seconds(30));
  EXPECT_EQ(parse_duration("10m"), minutes(10));
  EXPECT_EQ(parse_duration("2h"), hours(2));
  EXPECT_EQ(parse_duration("5d"), days(5));
}

TEST(ParseDuration, ZeroIsAValidDuration) { EXPECT_EQ(parse_duration("0s"), seconds(0)); }

TEST(ParseDuration, MissingUnitSaysWhatWasExpected) {
  EXPECT_EQ(parse_duration("30").error(), expected_a_duration("30"));
}

TEST(ParseDuration, UnknownUnitSaysWhatWasExpected) {
  EXPECT_EQ(parse_duration("30x").error(), expected_a_duration("30x"));
  EXPECT_EQ(parse_duration("2w").error(), expected_a_duration("2w"));
  EXPECT_EQ(parse_duration("30sec").error(), expected_a_duration("30sec"));
}

TEST(ParseDuration, UnitsAreLowerCase) {
  EXPECT_EQ(parse_duration("30S").error(), expected_a_duration("30S"));
}

TEST(ParseDuration, NegativeIsAnError) {
  EXPECT_EQ(parse_duration("-5s").error(), expected_a_duration("-5s"));
}

TEST(ParseDuration, NoNumberIsAnError) {
  EXPECT_EQ(parse_duration("s").error(), expected_a_duration("s"));
  EXPECT_EQ(parse_duration("").error(), expected_a_duration(""));
}

TEST(ParseDuration, FractionsAndSpacesAreErrors) {
  EXPECT_EQ(parse_duration("1.5s").error(), expected_a_duration("1.5s"));
  EXPECT_EQ(parse_duration("30 s").error(), expected_a_duration("30 s"));
  EXPECT_EQ(parse_duration(" 30s").error(), expected_a_duration(" 30s"));
}

TEST(ParseDuration, AtMostACentury) {
  EXPECT_EQ(parse_duration("36500d"), days(36500));
  EXPECT_EQ(parse_duration("36501d").error(), "duration \"36501d\" is longer than 100 years");
}

TEST(ParseDuration, NumberTooLargeForAnyUnitIsAnError) {
  EXPECT_EQ(parse_duration("99999999999999999999999s").error(),
            expected_a_duration("99999999999999999999999s"));
}

TEST(FormatDuration, UsesTheLargestUnitThatDividesExactly) {
  EXPECT_EQ(format_duration(days(5)), "5d");
  EXPECT_EQ(format_duration(hours(2)), "2h");
  EXPECT_EQ(format_duration(minutes(10)), "10m");
  EXPECT_EQ(format_duration(seconds(30)), "30s");
  EXPECT_EQ(format_duration(milliseconds(500)), "500ms");
}

TEST(FormatDuration, FallsBackToASmallerUnitWhenTheLargerIsInexact) {
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(hours(36)), "36h");
}

TEST(FormatDuration, ZeroIsZeroSeconds) { EXPECT_EQ(format_duration(seconds(0)), "0s"); }

TEST(FormatDuration, ParsesBackToTheSameDuration) {
  for (const char* text : {"500ms", "90s", "10m", "36h", "5d"}) {
    auto d = parse_duration(text);
    ASSERT_TRUE(d) << text;
    EXPECT_EQ(format_duration(*d), text);
  }
}

}  // namespace
TEST(ConfirmWindow, OneSecondToADayTheRestSaysWhich) {
  EXPECT_EQ(parse_confirm_window("60s"), seconds(60));
  EXPECT_EQ(parse_confirm_window("1s"), seconds(1));
  EXPECT_EQ(parse_confirm_window("24h"), std::chrono::hours(24));
  EXPECT_EQ(parse_confirm_window("500ms").error(), "--confirm takes 1s to 24h, got 500ms");
  EXPECT_EQ(parse_confirm_window("2d").error(), "--confirm takes 1s to 24h, got 2d");
  EXPECT_EQ(parse_confirm_window("soon").error().rfind("--confirm: ", 0), 0u);
}

}  // namespace portwall
