#include <gtest/gtest.h>

#include <set>

#include "domain/random.hpp"
#include "domain/validation.hpp"

namespace concertd {
namespace {

TEST(UserId, AllowsContractAlphabetAndLength) {
  EXPECT_TRUE(is_valid_user_id("user-123"));
  EXPECT_TRUE(is_valid_user_id("a.b_c@d-e"));
  EXPECT_TRUE(is_valid_user_id(std::string(64, 'x')));
  EXPECT_FALSE(is_valid_user_id(""));
  EXPECT_FALSE(is_valid_user_id(std::string(65, 'x')));
  EXPECT_FALSE(is_valid_user_id("with space"));
  EXPECT_FALSE(is_valid_user_id("slash/"));
  EXPECT_FALSE(is_valid_user_id("한글"));
}

TEST(ConcertId, IntegerWithoutSignOrLeadingZeros) {
  EXPECT_EQ(parse_concert_id("1"), 1);
  EXPECT_EQ(parse_concert_id("9223372036854775807"), 9223372036854775807LL);
  EXPECT_FALSE(parse_concert_id("9223372036854775808").has_value());
  EXPECT_FALSE(parse_concert_id("99999999999999999999").has_value());
  EXPECT_FALSE(parse_concert_id("0").has_value());
  EXPECT_FALSE(parse_concert_id("01").has_value());
  EXPECT_FALSE(parse_concert_id("-1").has_value());
  EXPECT_FALSE(parse_concert_id("+1").has_value());
  EXPECT_FALSE(parse_concert_id("1a").has_value());
  EXPECT_FALSE(parse_concert_id("").has_value());
}

TEST(Amounts, ChargeRangeIsInclusive) {
  EXPECT_FALSE(is_valid_charge_amount(9'999));
  EXPECT_TRUE(is_valid_charge_amount(10'000));
  EXPECT_TRUE(is_valid_charge_amount(1'000'000));
  EXPECT_FALSE(is_valid_charge_amount(1'000'001));
  EXPECT_FALSE(is_valid_charge_amount(-10'000));
  EXPECT_FALSE(is_valid_seat_price(999));
  EXPECT_TRUE(is_valid_seat_price(1'000));
  EXPECT_TRUE(is_valid_seat_price(10'000'000));
  EXPECT_FALSE(is_valid_seat_price(10'000'001));
}

TEST(IdempotencyKey, PrintableAsciiUpTo128) {
  EXPECT_TRUE(is_valid_idempotency_key("abc-123 ~"));
  EXPECT_TRUE(is_valid_idempotency_key(std::string(128, 'k')));
  EXPECT_FALSE(is_valid_idempotency_key(""));
  EXPECT_FALSE(is_valid_idempotency_key(std::string(129, 'k')));
  EXPECT_FALSE(is_valid_idempotency_key("tab\there"));
  EXPECT_FALSE(is_valid_idempotency_key("\x7f"));
}

TEST(ReservationId, OneTo128CharactersNotBytes) {
  EXPECT_FALSE(is_valid_reservation_id(""));
  EXPECT_TRUE(is_valid_reservation_id("res-1"));
  EXPECT_TRUE(is_valid_reservation_id(std::string(128, 'a')));
  EXPECT_FALSE(is_valid_reservation_id(std::string(129, 'a')));
  std::string korean;
  for (int i = 0; i < 128; ++i) {
    korean += "가";  // 3 bytes each: 384 bytes, 128 characters
  }
  EXPECT_TRUE(is_valid_reservation_id(korean));
  EXPECT_FALSE(is_valid_reservation_id(korean + "a"));
  EXPECT_FALSE(is_valid_reservation_id("res-\xff"));  // not UTF-8: not a string of characters
  EXPECT_FALSE(is_valid_reservation_id(std::string("res-1\0x", 7)));
}

TEST(Utf8, CountsCodePointsAndRejectsInvalid) {
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("콘서트"), 3u);
  EXPECT_EQ(utf8_length("\xF0\x9F\x8E\xB5"), 1u);         // musical note emoji
  EXPECT_FALSE(utf8_length("\xC0\xAF").has_value());      // overlong
  EXPECT_FALSE(utf8_length("\xED\xA0\x80").has_value());  // surrogate
  EXPECT_FALSE(utf8_length("\xE3\x81").has_value());      // truncated
}

}  // namespace
}  // namespace concertd

namespace concertd {
namespace {

// Ids come from a per-thread pool refilled from OpenSSL every 4 KiB: across many refills they
// stay full-length, in their alphabet and distinct.
TEST(RandomIds, StayDistinctAndWellFormedAcrossPoolRefills) {
  std::set<std::string> seen;
  for (int i = 0; i < 5'000; ++i) {
    const std::string token = random_base64url(32);
    ASSERT_EQ(token.size(), 43u);
    ASSERT_EQ(token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    const std::string id = random_id("res-", Timestamp{});
    ASSERT_EQ(id.size(), 48u);
    ASSERT_TRUE(seen.insert(token).second);
    ASSERT_TRUE(seen.insert(id).second);
  }
}

// Stored ids sort by creation time (their B-trees grow at the right edge) whatever their random
// part, and keep all of it: 256 bits in a token, 128 in an id.
TEST(RandomIds, SortByCreationTime) {
  const Timestamp t0{std::chrono::milliseconds(1'795'000'000'000)};
  for (int i = 0; i < 1'000; ++i) {
    const Timestamp earlier = t0 + std::chrono::milliseconds(i);
    const Timestamp later = earlier + std::chrono::milliseconds(1 + i % 3);
    EXPECT_LT(time_ordered_token(earlier, 32), time_ordered_token(later, 32));
    EXPECT_LT(random_id("pay-", earlier), random_id("pay-", later));
  }
  const std::string token = time_ordered_token(t0, 32);
  EXPECT_EQ(token.size(), 12u + 43u);
  EXPECT_EQ(token.substr(0, 12), "01a1ee565e00");  // 1,795,000,000,000 ms in hex
  EXPECT_EQ(random_id("res-", t0).substr(0, 16), "res-01a1ee565e00");
  EXPECT_NE(time_ordered_token(t0, 32), time_ordered_token(t0, 32));
}

}  // namespace
}  // namespace concertd
