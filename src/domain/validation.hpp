#pragma once
// Input rules of the contract that do not depend on stored state.
#include <cstdint>
#include <optional>
#include <string_view>

#include "domain/model.hpp"

namespace concertd {

inline constexpr Money kMinCharge = 10'000;
inline constexpr Money kMaxCharge = 1'000'000;
inline constexpr Money kBalanceCap = 100'000'000;
inline constexpr Money kMinSeatPrice = 1'000;
inline constexpr Money kMaxSeatPrice = 10'000'000;
inline constexpr int kMaxSeatsPerConcert = 5'000;
inline constexpr int kDefaultSeatCount = 50;
inline constexpr std::size_t kMaxTitleCodePoints = 200;

/// `s` without the spaces and tabs around it (a header value's optional whitespace, an item of a
/// comma-separated flag).
std::string_view trim_blanks(std::string_view s);

/// 1 to 64 characters of [A-Za-z0-9._@-].
bool is_valid_user_id(std::string_view id);
/// 1 to 128 characters (code points of valid UTF-8), none of them NUL.
bool is_valid_reservation_id(std::string_view id);
/// An integer 1..2^63-1 written without sign or leading zeros.
std::optional<ConcertId> parse_concert_id(std::string_view text);
/// 1 to 128 printable ASCII characters.
bool is_valid_idempotency_key(std::string_view key);
bool is_valid_charge_amount(Money amount);
bool is_valid_seat_price(Money price);
/// Number of code points if `text` is valid UTF-8, else nullopt.
std::optional<std::size_t> utf8_length(std::string_view text);

}  // namespace concertd
