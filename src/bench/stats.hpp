#pragma once
// Latency histograms and per-step counters of `concertd bench`. No Asio or Beast here, so that
// the arithmetic is unit-tested on its own and compiles quickly.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace concertd::bench {

using Clock = std::chrono::steady_clock;

/// Log-linear buckets over microseconds, HDR style: values below 2^sub_bits are exact, above
/// that every power of two is cut into 2^sub_bits buckets, so that a bucket is at most
/// 1/2^sub_bits of its lower bound wide. Memory is fixed by the range, whatever the count.
class Histogram {
 public:
  /// 7 bits: 128 buckets per power of two, a relative error of at most 1/256 (0.4%) when a
  /// bucket is reported by its midpoint. 1 µs .. 60 s takes 2,560 buckets (20 KiB).
  static constexpr int kDefaultSubBits = 7;
  static constexpr std::uint64_t kMaxMicros = 60'000'000;

  explicit Histogram(int sub_bits = kDefaultSubBits);

  void record(std::uint64_t micros);
  void merge(const Histogram& other);

  std::uint64_t count() const { return _count; }
  std::uint64_t max() const { return _max; }
  std::uint64_t min() const { return _count == 0 ? 0 : _min; }
  double mean() const { return _count == 0 ? 0.0 : static_cast<double>(_sum) / static_cast<double>(_count); }
  /// The value at percentile p (0..100] in microseconds: the midpoint of the bucket holding the
  /// ceil(p% * count)-th smallest value, kept within [min, max]. 0 when empty.
  double percentile(double p) const;
  /// Worst relative error of percentile() against the true value of the same rank.
  double relative_error() const { return 1.0 / static_cast<double>(std::uint64_t{2} << _sub_bits); }

 private:
  std::size_t index_of(std::uint64_t micros) const;
  /// [low, high] of the values bucket i holds.
  std::pair<std::uint64_t, std::uint64_t> bounds_of(std::size_t i) const;

  int _sub_bits;
  std::vector<std::uint64_t> _buckets;
  std::uint64_t _count = 0;
  std::uint64_t _sum = 0;
  std::uint64_t _min = 0;
  std::uint64_t _max = 0;
};

/// One second of a step: completions and a coarser histogram (3% error) for its p99.
struct SecondSlot {
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  Histogram latency{5};
};

/// Everything recorded for one kind of request ("status", "hold", ...).
class StepStats {
 public:
  /// Per-second slots beyond this are not kept (the totals still are): an hour of run.
  static constexpr std::size_t kMaxSeconds = 3600;

  explicit StepStats(std::string name) : _name(std::move(name)) {}

  /// `second` is the whole second of the measured window the answer arrived in. `status` is the
  /// HTTP status (0 when no answer came); `code` the error code of the body or of the transport
  /// ("timeout", "connect", ...), empty for a success.
  void record(bool ok, int status, std::string_view code, std::uint64_t latency_micros, std::size_t second);
  void merge(const StepStats& other);

  const std::string& name() const { return _name; }
  std::uint64_t ok() const { return _ok; }
  std::uint64_t errors() const { return _errors; }
  const Histogram& latency() const { return _latency; }
  const std::map<int, std::uint64_t>& by_status() const { return _by_status; }
  const std::map<std::string, std::uint64_t, std::less<>>& by_code() const { return _by_code; }
  const std::vector<SecondSlot>& series() const { return _series; }
  /// Successes per second over the step's own window when it has one (a phase shorter than the
  /// run, e.g. issuing tokens before the polling starts), else over `seconds`.
  double rate(double seconds) const {
    const double window = _window_seconds > 0 ? _window_seconds : seconds;
    return window <= 0 ? 0.0 : static_cast<double>(_ok) / window;
  }
  void set_window_seconds(double seconds) { _window_seconds = seconds; }

 private:
  /// Codes seen beyond this many distinct ones are counted as "other": a server answering
  /// garbage cannot grow the map without bound.
  static constexpr std::size_t kMaxCodes = 64;

  std::string _name;
  std::uint64_t _ok = 0;
  std::uint64_t _errors = 0;
  Histogram _latency;
  std::map<int, std::uint64_t> _by_status;
  std::map<std::string, std::uint64_t, std::less<>> _by_code;
  std::vector<SecondSlot> _series;
  double _window_seconds = 0;
};

/// The steps of one run (or of one shard of it), with the measured window: answers that arrive
/// before `measure_start` (warmup) or after `measure_end` are not counted.
class Recorder {
 public:
  static constexpr std::size_t kMaxSteps = 16;

  Recorder(Clock::time_point measure_start, Clock::time_point measure_end) : _start(measure_start), _end(measure_end) {}

  /// The step of that name, created on first use. The reference stays valid for the recorder's
  /// life (steps are never removed; at most kMaxSteps of them).
  StepStats& step(std::string_view name);

  /// Counts one exchange when `received` lies in the measured window; latency is taken from
  /// `started` (the intended send time in open loop). Returns whether it was counted.
  bool record(StepStats& step, bool ok, int status, std::string_view code, Clock::time_point started,
              Clock::time_point received);

  void merge(const Recorder& other);
  void set_window(Clock::time_point start, Clock::time_point end) {
    _start = start;
    _end = end;
  }
  Clock::time_point measure_start() const { return _start; }
  Clock::time_point measure_end() const { return _end; }
  double measured_seconds() const { return std::chrono::duration<double>(_end - _start).count(); }
  const std::vector<std::unique_ptr<StepStats>>& steps() const { return _steps; }

 private:
  Clock::time_point _start;
  Clock::time_point _end;
  std::vector<std::unique_ptr<StepStats>> _steps;
};

}  // namespace concertd::bench
