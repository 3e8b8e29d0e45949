#include "services/concert_service.hpp"

#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "domain/validation.hpp"

namespace concertd {
namespace {

constexpr std::size_t kMaxKnownConcerts = 100'000;

void check_text(const std::string& field, const std::string& value) {
  const auto length = utf8_length(value);
  if (!length || *length < 1 || *length > kMaxTitleCodePoints) {
    throw invalid_field(field, field + " must be 1 to 200 characters");
  }
}

}  // namespace

ConcertService::ConcertService(Store& store, const Clock& clock) : _store(store), _clock(clock) {}

Task<std::vector<ConcertSummary>> ConcertService::available() {
  const Timestamp now = _clock.now();
  {
    std::lock_guard lock(_mutex);
    if (_listing && _listing->first > now) {
      co_return _listing->second;
    }
  }
  auto fresh = co_await _store.available_concerts(date_of(now), now);
  std::lock_guard lock(_mutex);
  _listing.emplace(now + kListingCacheTtl, fresh);
  co_return fresh;
}

Task<SalesSummary> ConcertService::sales() {
  const Timestamp now = _clock.now();
  {
    std::lock_guard lock(_mutex);
    if (_sales && _sales->first > now) {
      co_return _sales->second;
    }
  }
  auto fresh = co_await _store.sales_summary(now, kListedConcerts);
  CONCERTD_ASSERT(fresh.concerts.size() <= kListedConcerts, "the store lists no more concerts than asked");
  std::lock_guard lock(_mutex);
  _sales.emplace(now + kSalesCacheTtl, fresh);
  co_return fresh;
}

Task<SeatMap> ConcertService::seats(ConcertId id) {
  auto map = co_await _store.seat_map(id, _clock.now());
  if (!map) {
    throw ClientError(Refusal::ConcertNotFound);
  }
  co_return std::move(*map);
}

Task<ConcertInfo> ConcertService::info(ConcertId id) {
  {
    std::lock_guard lock(_mutex);
    if (auto it = _known.find(id); it != _known.end()) {
      co_return it->second;
    }
  }
  auto found = co_await _store.concert_info(id);
  if (!found) {
    throw ClientError(Refusal::ConcertNotFound);
  }
  std::lock_guard lock(_mutex);
  if (_known.size() >= kMaxKnownConcerts) {
    _known.clear();
  }
  _known.emplace(id, *found);
  co_return *found;
}

Task<ConcertId> ConcertService::create(ConcertDraft draft) {
  check_text("title", draft.title);
  check_text("venue", draft.venue);
  const auto date = parse_date(draft.date);
  if (!date) {
    throw invalid_field("date", "date must be YYYY-MM-DD");
  }
  if (draft.price && draft.prices) {
    throw invalid_field("prices", "give either price or prices, not both");
  }
  if (!draft.price && !draft.prices) {
    throw invalid_field("price", "price or prices is required");
  }
  if (draft.seat_count && (*draft.seat_count < 1 || *draft.seat_count > kMaxSeatsPerConcert)) {
    throw invalid_field("seatCount", "seatCount must be 1 to 5000");
  }
  std::vector<Money> prices;
  if (draft.prices) {
    prices = std::move(*draft.prices);
    if (prices.empty() || prices.size() > static_cast<std::size_t>(kMaxSeatsPerConcert) ||
        (draft.seat_count && static_cast<std::int64_t>(prices.size()) != *draft.seat_count)) {
      throw invalid_field("prices", "prices must have exactly seatCount entries");
    }
  } else {
    prices.assign(static_cast<std::size_t>(draft.seat_count.value_or(kDefaultSeatCount)), *draft.price);
  }
  for (const Money p : prices) {
    if (!is_valid_seat_price(p)) {
      throw invalid_field(draft.prices ? "prices" : "price", "each price must be 1,000 to 10,000,000");
    }
  }
  // Named first: GCC 12 destroys a temporary argument of a co_awaited call twice.
  NewConcert concert{std::move(draft.title), std::move(draft.venue), *date, std::move(prices), _clock.now()};
  const ConcertId id = co_await _store.create_concert(std::move(concert));
  std::lock_guard lock(_mutex);
  _listing.reset();  // a new concert appears on the next listing
  co_return id;
}

}  // namespace concertd
