#pragma once
// Diagram 3: available dates and seat maps; concert creation for operators.
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "ports/clock.hpp"
#include "ports/store.hpp"

namespace concertd {

struct ConcertDraft {
  std::string title;
  std::string venue;
  std::string date;  // YYYY-MM-DD
  std::optional<std::int64_t> seat_count;
  std::optional<Money> price;
  std::optional<std::vector<Money>> prices;
};

class ConcertService {
 public:
  /// The listing may be this old: well within the contract's one second.
  static constexpr Millis kListingCacheTtl{500};
  static constexpr Millis kSalesCacheTtl{1000};
  static constexpr std::size_t kListedConcerts = 100;

  ConcertService(Store& store, const Clock& clock);

  Task<std::vector<ConcertSummary>> available();
  /// 404 CONCERT_NOT_FOUND when unknown.
  Task<SeatMap> seats(ConcertId id);
  /// Validates the draft (400 INVALID_REQUEST naming the field) and stores it.
  Task<ConcertId> create(ConcertDraft draft);
  /// Sales for the operators' dashboard: totals, and the kListedConcerts newest concerts. A scan
  /// of the store, so one answer serves every dashboard for kSalesCacheTtl.
  Task<SalesSummary> sales();
  /// Immutable facts of a concert, remembered after the first read. 404 when unknown.
  Task<ConcertInfo> info(ConcertId id);

 private:
  Store& _store;
  const Clock& _clock;
  std::mutex _mutex;
  std::optional<std::pair<Timestamp, std::vector<ConcertSummary>>> _listing;  // (expires, value)
  std::optional<std::pair<Timestamp, SalesSummary>> _sales;                   // (expires, value)
  std::unordered_map<ConcertId, ConcertInfo> _known;                          // concerts never change once created
};

}  // namespace concertd
