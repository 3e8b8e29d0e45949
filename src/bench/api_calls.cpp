#include "bench/api_calls.hpp"

#include <algorithm>
#include <exception>

#include <boost/asio.hpp>
#include <boost/json.hpp>

namespace concertd::bench {

namespace {

/// A cap on concerts one run creates (holds, payments): 5,000,000 seats.
constexpr std::int64_t kMaxConcerts = 1000;
/// Final balance reads after payments/rush are capped: enough users to catch a leak.
constexpr std::size_t kMaxBalanceChecks = 20'000;

}  // namespace

std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::int64_t int_field(const json::object& o, std::string_view key, std::int64_t fallback) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return fallback;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    return static_cast<std::int64_t>(v->as_double());
  }
  return fallback;
}

std::string string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return {};
  }
  return std::string(v->as_string());
}

std::string code_of(const Exchange& ex) {
  if (ex.status == 0) {
    return ex.error;
  }
  if (auto o = parse_object(ex.body)) {
    std::string code = string_field(*o, "code");
    if (!code.empty()) {
      return code;
    }
  }
  return "HTTP_" + std::to_string(ex.status);
}

std::string json_user_body(std::string_view user) {
  std::string body = "{\"userId\":\"";
  body += user;
  body += "\"}";
  return body;
}

Task<std::optional<TokenAnswer>> issue_token(Shard& shard, HttpConnection& conn, std::string_view user, StepStats* step,
                                             std::string& why) {
  const std::string body = json_user_body(user);
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, step, Method::post, "/api/queue/token", body, headers, 201, now, ex);
  std::optional<TokenAnswer> out;
  if (ex.status != 201 && ex.status != 200) {
    why = "token for " + std::string(user) + ": " +
          (ex.status == 0 ? "no answer (" + ex.error + ")" : std::to_string(ex.status) + " " + code_of(ex));
    co_return out;
  }
  auto o = parse_object(ex.body);
  if (!o) {
    why = "token answer is not JSON";
    co_return out;
  }
  TokenAnswer t;
  t.token = string_field(*o, "token");
  t.status = string_field(*o, "status");
  t.position = int_field(*o, "queuePosition");
  t.poll_after = int_field(*o, "pollAfterSeconds", 1);
  out = std::move(t);
  co_return out;
}

Task<std::int64_t> create_concert(Shard& shard, HttpConnection& conn, std::int64_t seats,
                                  const std::vector<std::int64_t>& prices, std::string& why) {
  if (shard.shared.cfg.admin_key.empty()) {
    why = "creating a concert needs --admin-key (the server's --admin-key)";
    co_return 0;
  }
  if (shard.shared.concerts_created.fetch_add(1) >= kMaxConcerts) {
    why = "the run would create more than " + std::to_string(kMaxConcerts) + " concerts";
    co_return 0;
  }
  json::object req{
      {"title", "bench " + shard.shared.run_id}, {"venue", "bench hall"}, {"date", "2030-01-01"}, {"seatCount", seats}};
  if (prices.empty()) {
    req["price"] = kBenchPrice;
  } else {
    json::array p;
    for (auto v : prices) {
      p.push_back(v);
    }
    req["prices"] = std::move(p);
  }
  const std::string body = json::serialize(req);
  RequestHeaders headers;
  headers.admin_key = shard.shared.cfg.admin_key;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::post, "/api/admin/concerts", body, headers, 201, now, ex);
  if (ex.status != 201) {
    why = "creating a concert: " + (ex.status == 0 ? ex.error : std::to_string(ex.status) + " " + code_of(ex));
    co_return 0;
  }
  auto o = parse_object(ex.body);
  co_return o ? int_field(*o, "concertId") : 0;
}

std::string hold_body(std::int64_t concert, std::int64_t seat) {
  return "{\"concertId\":" + std::to_string(concert) + ",\"seatNumber\":" + std::to_string(seat) + "}";
}

std::optional<SeatMap> parse_seat_map(std::string_view body) {
  auto o = parse_object(body);
  if (!o) {
    return std::nullopt;
  }
  const json::value* seats = o->if_contains("seats");
  if (seats == nullptr || !seats->is_array()) {
    return std::nullopt;
  }
  SeatMap map;
  for (const auto& s : seats->as_array()) {
    if (!s.is_object()) {
      continue;
    }
    const auto& seat = s.as_object();
    const std::int64_t number = int_field(seat, "number");
    const std::string status = string_field(seat, "status");
    map.price_by_seat[number] = int_field(seat, "price");
    if (status == "available") {
      ++map.available;
      map.available_seats.push_back(number);
    } else if (status == "reserved") {
      ++map.reserved;
    } else {
      ++map.held;
    }
  }
  return map;
}

Task<std::optional<SeatMap>> read_seat_map(Shard& shard, HttpConnection& conn, std::int64_t concert, StepStats* step) {
  const std::string target = "/api/concerts/" + std::to_string(concert) + "/seats";
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, step, Method::get, target, kNoBody, headers, 200, now, ex);
  std::optional<SeatMap> out;
  if (ex.status == 200) {
    out = parse_seat_map(ex.body);
  }
  co_return out;
}

Task<std::optional<std::int64_t>> read_balance(Shard& shard, HttpConnection& conn, std::string_view user) {
  std::string target = "/api/users/";
  target += user;
  target += "/balance";
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, target, kNoBody, headers, 200, now, ex);
  std::optional<std::int64_t> out;
  if (ex.status == 200) {
    if (auto o = parse_object(ex.body)) {
      out = int_field(*o, "balance");
    }
  }
  co_return out;
}

Task<std::optional<json::object>> read_admin_queue(Shard& shard, HttpConnection& conn) {
  RequestHeaders headers;
  headers.admin_key = shard.shared.cfg.admin_key;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, "/api/admin/queue", kNoBody, headers, 200, now, ex);
  std::optional<json::object> out;
  if (ex.status == 200) {
    out = parse_object(ex.body);
  }
  co_return out;
}

Task<std::optional<double>> read_server_rss(Shard& shard, HttpConnection& conn) {
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, "/metrics", kNoBody, headers, 200, now, ex);
  std::optional<double> out;
  if (ex.status != 200) {
    co_return out;
  }
  constexpr std::string_view name = "process_resident_memory_bytes";
  std::size_t pos = 0;
  /// One pass over the lines; a /metrics page is bounded by the body limit.
  while (pos < ex.body.size()) {
    const std::size_t end = std::min(ex.body.find('\n', pos), ex.body.size());
    std::string_view line(ex.body.data() + pos, end - pos);
    if (line.substr(0, name.size()) == name && line.size() > name.size() &&
        (line[name.size()] == ' ' || line[name.size()] == '{')) {
      const auto space = line.rfind(' ');
      try {
        out = std::stod(std::string(line.substr(space + 1)));
      } catch (const std::exception&) {
        out.reset();
      }
      break;
    }
    pos = end + 1;
  }
  co_return out;
}

void check_payments(Shared& shared, Shard& shard, const std::vector<std::int64_t>& concerts,
                    const std::vector<PaymentFact>& payments, const std::vector<BalanceFact>& balances, Outcome& out) {
  shared.phase = "checking";
  auto conn = shard.connect();
  std::vector<SeatMapFact> maps;
  for (std::int64_t concert : concerts) {
    auto map = run_blocking(shard, read_seat_map(shard, *conn, concert, nullptr));
    if (!map) {
      shared.fail("final seat map of concert " + std::to_string(concert) + " could not be read");
      return;
    }
    SeatMapFact fact;
    fact.concert_id = concert;
    fact.exclusive = true;
    fact.reserved = map->reserved;
    fact.price_by_seat = std::move(map->price_by_seat);
    maps.push_back(std::move(fact));
  }
  std::vector<BalanceFact> finals;
  for (const auto& b : balances) {
    if (finals.size() >= kMaxBalanceChecks) {
      shared.note("balances checked for the first " + std::to_string(kMaxBalanceChecks) + " users only");
      break;
    }
    auto balance = run_blocking(shard, read_balance(shard, *conn, b.user_id));
    if (!balance) {
      shared.fail("final balance of " + b.user_id + " could not be read");
      return;
    }
    BalanceFact f = b;
    f.final_balance = *balance;
    finals.push_back(std::move(f));
  }
  out.invariants_checked = true;
  check_seats(payments, maps, out.invariants);
  check_money(finals, out.invariants);
}

}  // namespace concertd::bench
