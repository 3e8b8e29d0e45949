#include "bench/invariants.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>
#include <utility>

namespace concertd::bench {

namespace {

void add(InvariantReport& report, std::string invariant, std::string detail) {
  if (report.violations.size() < kMaxViolations) {
    report.violations.push_back(Violation{std::move(invariant), std::move(detail)});
  }
}

std::string seat_name(std::int64_t concert, std::int64_t seat) {
  return "concert " + std::to_string(concert) + " seat " + std::to_string(seat);
}

}  // namespace

void check_seats(const std::vector<PaymentFact>& payments, const std::vector<SeatMapFact>& maps,
                 InvariantReport& report) {
  std::map<std::pair<std::int64_t, std::int64_t>, const PaymentFact*> sold;
  std::map<std::int64_t, std::int64_t> paid_per_concert;
  std::map<std::int64_t, const SeatMapFact*> map_of;
  for (const auto& m : maps) {
    map_of[m.concert_id] = &m;
  }
  for (const auto& p : payments) {
    ++report.checks;
    const auto key = std::make_pair(p.concert_id, p.seat_number);
    auto [it, fresh] = sold.emplace(key, &p);
    if (!fresh) {
      add(report, "seat_sold_twice",
          seat_name(p.concert_id, p.seat_number) + " paid by " + it->second->user_id + " and by " + p.user_id);
    }
    ++paid_per_concert[p.concert_id];
    auto m = map_of.find(p.concert_id);
    if (m != map_of.end()) {
      ++report.checks;
      auto price = m->second->price_by_seat.find(p.seat_number);
      if (price == m->second->price_by_seat.end()) {
        add(report, "price", seat_name(p.concert_id, p.seat_number) + " paid by " + p.user_id + " is not on the map");
      } else if (price->second != p.amount) {
        add(report, "price",
            seat_name(p.concert_id, p.seat_number) + " paid " + std::to_string(p.amount) + " by " + p.user_id +
                ", seat price " + std::to_string(price->second));
      }
    }
  }
  for (const auto& m : maps) {
    if (!m.exclusive) {
      continue;
    }
    ++report.checks;
    const std::int64_t paid = paid_per_concert[m.concert_id];
    if (m.reserved != paid) {
      add(report, "reserved_count",
          "concert " + std::to_string(m.concert_id) + ": " + std::to_string(m.reserved) +
              " seats reserved on the map, " + std::to_string(paid) + " payments acknowledged");
    }
  }
}

void check_money(const std::vector<BalanceFact>& balances, InvariantReport& report) {
  for (const auto& b : balances) {
    ++report.checks;
    const std::int64_t expected = b.charged - b.paid;
    if (b.final_balance != expected) {
      add(report, "balance",
          b.user_id + ": balance " + std::to_string(b.final_balance) + ", charged " + std::to_string(b.charged) +
              " - paid " + std::to_string(b.paid) + " = " + std::to_string(expected));
    }
    if (b.final_balance < 0) {
      add(report, "balance", b.user_id + ": negative balance " + std::to_string(b.final_balance));
    }
  }
}

void check_fifo(const std::vector<TokenFact>& tokens, InvariantReport& report) {
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  // Fans by the time their token was asked for; for each, the earliest answer saying active.
  std::vector<std::size_t> order(tokens.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return tokens[a].issue_sent_us < tokens[b].issue_sent_us; });
  std::vector<std::int64_t> active_at(tokens.size(), kNever);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    for (const auto& o : tokens[i].observations) {
      if (o.active) {
        active_at[i] = std::min(active_at[i], o.received_us);
      }
    }
  }
  /// suffix_min[k]: the earliest activation among the fans from the k-th issue on, and who.
  std::vector<std::pair<std::int64_t, std::size_t>> suffix_min(order.size() + 1, {kNever, 0});
  for (std::size_t k = order.size(); k-- > 0;) {
    suffix_min[k] = std::min(suffix_min[k + 1], std::make_pair(active_at[order[k]], order[k]));
  }
  for (std::size_t a = 0; a < tokens.size(); ++a) {
    const TokenFact& fan = tokens[a];
    // Position never grows between a token's own answers while it waits.
    const QueueObservation* previous = nullptr;
    for (const auto& o : fan.observations) {
      if (o.active) {
        previous = nullptr;
        continue;
      }
      if (previous != nullptr) {
        ++report.checks;
        if (o.position > previous->position) {
          add(report, "position",
              fan.user_id + ": position grew from " + std::to_string(previous->position) + " to " +
                  std::to_string(o.position) + " at +" + std::to_string(o.received_us / 1000) + " ms");
        }
      }
      previous = &o;
    }
    if (fan.dropped) {
      continue;
    }
    // The first fan whose token was asked for strictly after A's was answered.
    auto first_later = std::upper_bound(order.begin(), order.end(), fan.issue_received_us,
                                        [&](std::int64_t t, std::size_t i) { return t < tokens[i].issue_sent_us; });
    const auto [t_b, b] = suffix_min[static_cast<std::size_t>(first_later - order.begin())];
    if (t_b == kNever) {
      continue;
    }
    ++report.checks;
    for (const auto& o : fan.observations) {
      if (!o.active && o.sent_us > t_b) {
        add(report, "fifo",
            fan.user_id + " (issued at +" + std::to_string(fan.issue_received_us / 1000) +
                " ms) still waiting at position " + std::to_string(o.position) + " in a poll sent at +" +
                std::to_string(o.sent_us / 1000) + " ms, after " + tokens[b].user_id + " (issued later, at +" +
                std::to_string(tokens[b].issue_sent_us / 1000) + " ms) was active at +" + std::to_string(t_b / 1000) +
                " ms");
        break;
      }
    }
  }
}

}  // namespace concertd::bench
