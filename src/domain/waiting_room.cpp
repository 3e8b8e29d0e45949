#include "domain/waiting_room.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>

#include <openssl/evp.h>

#include "domain/random.hpp"

namespace concertd {
namespace {

constexpr const char* kMaxActive = "room.max_active";
constexpr const char* kAdmitPerMinute = "room.admit_per_minute";
constexpr const char* kPaused = "room.paused";
constexpr const char* kOpensAt = "room.opens_at";
constexpr const char* kOpenedFor = "room.opened_for";
constexpr const char* kOpenedAt = "room.opened_at";
constexpr const char* kShuffleSeed = "room.shuffle_seed";
constexpr const char* kOpeningClaim = "room.opening_claim";  // "<opensAt ms> <first seq> <block size> <seed>"

/// Optional numbers are stored as "" when absent, so that a POST can clear them.
std::string optional_text(const std::optional<std::int64_t>& value) {
  return value ? std::to_string(*value) : std::string();
}
std::string optional_text(const std::optional<Timestamp>& value) {
  return value ? std::to_string(to_millis(*value)) : std::string();
}

std::optional<std::int64_t> number(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

/// Reads row `name` into `out` when it is there and parses; "" clears an optional.
template <class Parse>
void read_row(const std::map<std::string, std::string>& rows, const char* name, Parse parse) {
  if (const auto it = rows.find(name); it != rows.end()) {
    parse(it->second);
  }
}

using Digest = std::array<unsigned char, 32>;

Digest rank_of(std::string_view seed, std::string_view id) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) {
    throw std::bad_alloc();
  }
  Digest out{};
  unsigned int length = 0;
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, seed.data(), seed.size()) == 1 && EVP_DigestUpdate(ctx, ":", 1) == 1 &&
                  EVP_DigestUpdate(ctx, id.data(), id.size()) == 1 && EVP_DigestFinal_ex(ctx, out.data(), &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || length != out.size()) {
    throw std::runtime_error("sha256 failed");
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> room_rows(const RoomSettings& s) {
  std::map<std::string, std::string> rows{{kMaxActive, std::to_string(s.max_active)},
                                          {kAdmitPerMinute, optional_text(s.admit_per_minute)},
                                          {kPaused, s.paused ? "true" : "false"},
                                          {kOpensAt, optional_text(s.opens_at)}};
  if (s.opened_for) {
    rows.merge(opening_rows(*s.opened_for, s.opened_at.value_or(*s.opened_for), s.shuffle_seed.value_or("")));
  }
  return rows;
}

std::map<std::string, std::string> opening_rows(Timestamp opened_for, Timestamp opened_at, const std::string& seed) {
  return {{kOpenedFor, std::to_string(to_millis(opened_for))},
          {kOpenedAt, std::to_string(to_millis(opened_at))},
          {kShuffleSeed, seed}};
}

std::map<std::string, std::string> claim_rows(const RoomSettings::Claim& claim) {
  return {{kOpeningClaim, std::to_string(to_millis(claim.opens_at)) + ' ' + std::to_string(claim.first_seq) + ' ' +
                              std::to_string(claim.block_size) + ' ' + claim.seed}};
}

RoomSettings room_from_rows(const std::map<std::string, std::string>& rows, const RoomSettings& defaults) {
  RoomSettings s = defaults;
  auto optional_number = [](std::optional<std::int64_t>& out) {
    return [&out](const std::string& text) {
      if (text.empty()) {
        out.reset();
      } else if (const auto v = number(text); v && *v > 0) {
        out = v;
      }
    };
  };
  auto optional_time = [](std::optional<Timestamp>& out) {
    return [&out](const std::string& text) {
      if (text.empty()) {
        out.reset();
      } else if (const auto v = number(text)) {
        out = from_millis(*v);
      }
    };
  };
  read_row(rows, kMaxActive, [&s](const std::string& text) {
    if (const auto v = number(text); v && *v >= 1 && *v <= kMaxActiveLimit) {
      s.max_active = *v;
    }
  });
  read_row(rows, kAdmitPerMinute, optional_number(s.admit_per_minute));
  read_row(rows, kPaused, [&s](const std::string& text) { s.paused = text == "true"; });
  read_row(rows, kOpensAt, optional_time(s.opens_at));
  read_row(rows, kOpenedFor, optional_time(s.opened_for));
  read_row(rows, kOpenedAt, optional_time(s.opened_at));
  read_row(rows, kShuffleSeed, [&s](const std::string& text) {
    s.shuffle_seed = text.empty() ? std::nullopt : std::optional<std::string>(text);
  });
  read_row(rows, kOpeningClaim, [&s](const std::string& text) {
    // Four fields separated by single spaces; the seed (hex) has none.
    std::string_view rest(text);
    std::int64_t fields[3] = {};
    for (std::int64_t& field : fields) {
      const std::size_t space = rest.find(' ');
      const auto v = space == std::string_view::npos ? std::nullopt : number(rest.substr(0, space));
      if (!v) {
        return;
      }
      field = *v;
      rest.remove_prefix(space + 1);
    }
    if (!rest.empty()) {
      s.claim = RoomSettings::Claim{from_millis(fields[0]), std::string(rest), fields[1], fields[2]};
    }
  });
  return s;
}

bool AdmissionBudget::take(std::int64_t now_ms, std::int64_t per_minute) {
  const std::int64_t cap = capacity(per_minute);
  if (credit < 0) {
    credit = cap;
  } else if (now_ms > refilled_at_ms) {
    /// A minute refills any bucket; clamping before the multiply keeps a long idle from overflowing.
    const std::int64_t elapsed = std::min(now_ms - refilled_at_ms, std::int64_t{60'000});
    credit = std::min(cap, credit + elapsed * per_minute);
  }
  refilled_at_ms = std::max(refilled_at_ms, now_ms);
  if (credit < kUnit) {
    return false;
  }
  credit -= kUnit;
  return true;
}

std::vector<std::string> opening_order(std::string_view seed, std::vector<std::string> ids) {
  std::vector<std::pair<Digest, std::string>> ranked;
  ranked.reserve(ids.size());
  for (auto& id : ids) {
    ranked.emplace_back(rank_of(seed, id), std::move(id));
  }
  std::sort(ranked.begin(), ranked.end());
  std::vector<std::string> out;
  out.reserve(ranked.size());
  for (auto& [rank, id] : ranked) {
    out.push_back(std::move(id));
  }
  return out;
}

std::string join_token_ids(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    out += id;
    out += '\n';
  }
  return out;
}

std::vector<std::string> split_token_ids(std::string_view text) {
  std::vector<std::string> ids;
  /// Bounded by the text: each turn consumes one line.
  for (std::size_t start = 0; start < text.size();) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    if (end > start) {
      ids.emplace_back(text.substr(start, end - start));
    }
    start = end + 1;
  }
  return ids;
}

std::string draw_shuffle_seed() { return random_hex(32); }

}  // namespace concertd
