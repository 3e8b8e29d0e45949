#pragma once
// The end of a bench run: the table on stdout, the JSON result and the HTML report. No Asio or
// Beast; Boost.JSON only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "bench/invariants.hpp"
#include "bench/stats.hpp"

namespace concertd::bench {

/// How the fans of a rush ended.
struct FanOutcomes {
  std::int64_t bought = 0;
  std::int64_t sold_out = 0;
  std::int64_t failed = 0;
  std::map<std::string, std::int64_t> failed_by_reason;
};

struct RunResult {
  std::string scenario;
  std::string url;
  std::string started_at;  ///< RFC 3339
  boost::json::object config;
  const Recorder* recorder = nullptr;
  std::optional<FanOutcomes> fans;
  boost::json::object extra;  ///< scenario figures (waiting: modelled rate, server RSS)
  bool invariants_checked = false;
  InvariantReport invariants;
  std::vector<std::string> notes;
};

/// step      ok    errors  rate/s   p50 ms  p90 ms  p99 ms  p99.9 ms  max ms
std::string format_table(const Recorder& recorder);
boost::json::value to_json(const RunResult& result);
/// One self-contained page: inline SVG charts and CSS, no script, no external resource.
std::string to_html(const RunResult& result);

}  // namespace concertd::bench
