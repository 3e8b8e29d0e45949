#include <gtest/gtest.h>

#include "domain/time.hpp"

namespace concertd {
namespace {

TEST(Rfc3339, FormatsUtcWithMillisecondsAndZ) {
  EXPECT_EQ(format_rfc3339(from_millis(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(from_millis(1'748'532'900'123)), "2025-05-29T15:35:00.123Z");
  EXPECT_EQ(format_rfc3339(from_millis(-1)), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339, FormatsTheEdgesOfFourDigitYearsAndBeyond) {
  EXPECT_EQ(format_rfc3339(from_millis(-62'167'219'200'000)), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(from_millis(253'402'300'799'999)), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(from_millis(253'402'300'800'000)), "10000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(from_millis(-62'167'219'200'001)), "-001-12-31T23:59:59.999Z");
  EXPECT_EQ(format_rfc3339(from_millis(951'782'400'000 + 86'399'999)), "2000-02-29T23:59:59.999Z");
}

TEST(Rfc3339, ParsesWhatItFormats) {
  for (std::int64_t ms : {0LL, 1'748'532'900'123LL, 951'782'400'000LL /* 2000-02-29 */, 4'102'444'799'999LL}) {
    const auto parsed = parse_rfc3339(format_rfc3339(from_millis(ms)));
    ASSERT_TRUE(parsed.has_value()) << ms;
    EXPECT_EQ(to_millis(*parsed), ms);
  }
}

TEST(Rfc3339, RejectsMalformedText) {
  for (const char* bad : {"", "2025-05-29", "2025-05-29T15:35:00.000", "2025-05-29 15:35:00.000Z",
                          "2025-13-29T15:35:00.000Z", "2025-02-29T00:00:00.000Z", "2025-05-29T24:00:00.000Z",
                          "2025-05-29T15:35:00.Z", "2025-05-29T15:35:00.0000Z", "2025-05-29T15:35:0a.000Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

TEST(Dates, FormatParseAndCalendarRules) {
  EXPECT_EQ(format_date(Date{0}), "1970-01-01");
  EXPECT_EQ(format_date(date_of(from_millis(1'748'532'900'123))), "2025-05-29");
  ASSERT_TRUE(parse_date("2024-02-29").has_value());
  EXPECT_EQ(format_date(*parse_date("2024-02-29")), "2024-02-29");
  EXPECT_FALSE(parse_date("2023-02-29").has_value());
  EXPECT_FALSE(parse_date("2100-02-29").has_value());
  EXPECT_TRUE(parse_date("2000-02-29").has_value());
  EXPECT_FALSE(parse_date("2025-6-01").has_value());
  EXPECT_FALSE(parse_date("2025-06-31").has_value());
}

TEST(Dates, DateOfIsUtcDayBoundary) {
  EXPECT_EQ(date_of(from_millis(86'399'999)).days_since_epoch, 0);
  EXPECT_EQ(date_of(from_millis(86'400'000)).days_since_epoch, 1);
  EXPECT_EQ(date_of(from_millis(-1)).days_since_epoch, -1);
}

}  // namespace
}  // namespace concertd
