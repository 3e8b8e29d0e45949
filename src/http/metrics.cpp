#include "http/metrics.hpp"

#include <cstdio>

#include <unistd.h>

namespace concertd::http {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

/// The method label: any token is a valid HTTP method, so a client could otherwise grow the
/// series (and the /metrics page) by one per made-up method.
std::string_view method_label(const std::string& method) {
  static constexpr std::string_view known[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
  for (const auto m : known) {
    if (method == m) {
      return m;  // a view of a static: safe to keep as a key
    }
  }
  return "other";
}

/// Resident memory from /proc/self/statm (pages), for the waiting-line memory figure; 0 elsewhere.
std::uint64_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  const int read = std::fscanf(f, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(f);
  return read == 2 ? resident_pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

void Metrics::observe(std::string_view route, const std::string& method, int status, double seconds) {
  std::lock_guard lock(_mutex);
  auto it = _routes.find(route);
  if (it == _routes.end()) {
    it = _routes.emplace(route, RouteSeries{}).first;  // bounded: routes are the router's patterns
  }
  ++it->second.requests[{method_label(method), status}];
  auto& h = it->second.latency;
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      ++h.buckets[i];
    }
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(const std::optional<QueueStats>& queue) const {
  std::string out;
  std::lock_guard lock(_mutex);
  out += "# HELP concertd_http_requests_total HTTP requests by route, method and status.\n";
  out += "# TYPE concertd_http_requests_total counter\n";
  for (const auto& [route, series] : _routes) {
    for (const auto& [key, count] : series.requests) {
      const auto& [method, status] = key;
      out += "concertd_http_requests_total{route=\"" + route + "\",method=\"" + std::string(method) + "\",status=\"" +
             std::to_string(status) + "\"} " + std::to_string(count) + "\n";
    }
  }
  out += "# HELP concertd_http_request_duration_seconds Request latency by route.\n";
  out += "# TYPE concertd_http_request_duration_seconds histogram\n";
  for (const auto& [route, series] : _routes) {
    const Histogram& h = series.latency;
    const std::string label = "route=\"" + route + "\"";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += "concertd_http_request_duration_seconds_bucket{" + label + ",le=\"" + number(kBuckets[i]) + "\"} " +
             std::to_string(h.buckets[i]) + "\n";
    }
    out += "concertd_http_request_duration_seconds_bucket{" + label + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "concertd_http_request_duration_seconds_sum{" + label + "} " + number(h.sum) + "\n";
    out += "concertd_http_request_duration_seconds_count{" + label + "} " + std::to_string(h.count) + "\n";
  }
  auto gauge = [&](const char* name, const char* help, const char* type, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(v) + "\n";
  };
  gauge("concertd_coordinator_up", "1 when the line's counts below could be read from the coordinator.", "gauge",
        queue ? 1 : 0);
  if (queue) {
    gauge("concertd_queue_waiting", "Tokens waiting in line.", "gauge", static_cast<std::uint64_t>(queue->waiting));
    gauge("concertd_queue_active", "Active tokens.", "gauge", static_cast<std::uint64_t>(queue->active));
    gauge("concertd_queue_pre_queue", "Tokens waiting for the opening, without a place yet.", "gauge",
          static_cast<std::uint64_t>(queue->pre_queue));
    gauge("concertd_queue_admitted_last_minute", "Tokens that became active in the last 60 s.", "gauge",
          static_cast<std::uint64_t>(queue->admitted_last_minute));
  }
  gauge("concertd_holds_total", "Seat holds taken.", "counter", _holds.load());
  gauge("concertd_releases_total", "Holds released on expiry.", "counter", _releases.load());
  gauge("concertd_payments_total", "Payments completed.", "counter", _payments.load());
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", resident_bytes());
  return out;
}

}  // namespace concertd::http
