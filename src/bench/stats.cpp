#include "bench/stats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include "domain/assert.hpp"

namespace concertd::bench {

Histogram::Histogram(int sub_bits) : _sub_bits(sub_bits) {
  CONCERTD_ASSERT(sub_bits >= 1 && sub_bits <= 12, "a histogram resolves 1 to 12 bits per power of two");
  _buckets.assign(index_of(kMaxMicros) + 1, 0);
}

std::size_t Histogram::index_of(std::uint64_t micros) const {
  const std::uint64_t sub = std::uint64_t{1} << _sub_bits;
  if (micros < sub) {
    return static_cast<std::size_t>(micros);
  }
  const int msb = static_cast<int>(std::bit_width(micros)) - 1;
  const int shift = msb - _sub_bits;
  const std::uint64_t mantissa = micros >> shift;
  return static_cast<std::size_t>(sub + static_cast<std::uint64_t>(shift) * sub + (mantissa - sub));
}

std::pair<std::uint64_t, std::uint64_t> Histogram::bounds_of(std::size_t i) const {
  const std::uint64_t sub = std::uint64_t{1} << _sub_bits;
  if (i < sub) {
    return {i, i};
  }
  const std::uint64_t shift = (i - sub) / sub;
  const std::uint64_t mantissa = sub + (i - sub) % sub;
  return {mantissa << shift, ((mantissa + 1) << shift) - 1};
}

void Histogram::record(std::uint64_t micros) {
  /// Values over the range land in the last bucket; max() still reports the true value.
  const std::uint64_t clamped = std::min(micros, kMaxMicros);
  ++_buckets[index_of(clamped)];
  _min = _count == 0 ? micros : std::min(_min, micros);
  _max = std::max(_max, micros);
  ++_count;
  _sum += micros;
}

void Histogram::merge(const Histogram& other) {
  CONCERTD_ASSERT(other._sub_bits == _sub_bits, "only histograms of one resolution merge");
  if (other._count == 0) {
    return;
  }
  for (std::size_t i = 0; i < _buckets.size(); ++i) {
    _buckets[i] += other._buckets[i];
  }
  _min = _count == 0 ? other._min : std::min(_min, other._min);
  _max = std::max(_max, other._max);
  _count += other._count;
  _sum += other._sum;
}

double Histogram::percentile(double p) const {
  if (_count == 0) {
    return 0.0;
  }
  const double wanted = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(_count));
  const std::uint64_t rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(wanted));
  if (rank >= _count) {
    return static_cast<double>(_max);  // the largest value is known exactly
  }
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < _buckets.size(); ++i) {
    seen += _buckets[i];
    if (seen >= rank) {
      const auto [low, high] = bounds_of(i);
      const double mid = (static_cast<double>(low) + static_cast<double>(high)) / 2.0;
      return std::clamp(mid, static_cast<double>(min()), static_cast<double>(_max));
    }
  }
  return static_cast<double>(_max);
}

void StepStats::record(bool ok, int status, std::string_view code, std::uint64_t latency_micros, std::size_t second) {
  if (ok) {
    ++_ok;
  } else {
    ++_errors;
  }
  if (status != 0) {
    ++_by_status[status];
  }
  if (!code.empty()) {
    auto it = _by_code.find(code);
    if (it != _by_code.end()) {
      ++it->second;
    } else if (_by_code.size() < kMaxCodes) {
      _by_code.emplace(std::string(code), 1);
    } else {
      ++_by_code["other"];
    }
  }
  _latency.record(latency_micros);
  if (second < kMaxSeconds) {
    if (_series.size() <= second) {
      _series.resize(second + 1);
    }
    SecondSlot& slot = _series[second];
    if (ok) {
      ++slot.ok;
    } else {
      ++slot.errors;
    }
    slot.latency.record(latency_micros);
  }
}

void StepStats::merge(const StepStats& other) {
  _window_seconds = std::max(_window_seconds, other._window_seconds);
  _ok += other._ok;
  _errors += other._errors;
  _latency.merge(other._latency);
  for (const auto& [status, n] : other._by_status) {
    _by_status[status] += n;
  }
  for (const auto& [code, n] : other._by_code) {
    _by_code[code] += n;
  }
  if (_series.size() < other._series.size()) {
    _series.resize(other._series.size());
  }
  for (std::size_t i = 0; i < other._series.size(); ++i) {
    _series[i].ok += other._series[i].ok;
    _series[i].errors += other._series[i].errors;
    _series[i].latency.merge(other._series[i].latency);
  }
}

StepStats& Recorder::step(std::string_view name) {
  for (auto& s : _steps) {
    if (s->name() == name) {
      return *s;
    }
  }
  CONCERTD_ASSERT(_steps.size() < kMaxSteps, "a run records a bounded number of steps");
  _steps.push_back(std::make_unique<StepStats>(std::string(name)));
  return *_steps.back();
}

bool Recorder::record(StepStats& step, bool ok, int status, std::string_view code, Clock::time_point started,
                      Clock::time_point received) {
  if (received < _start || received > _end) {
    return false;
  }
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(received - started).count();
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(received - _start).count();
  step.record(ok, status, code, static_cast<std::uint64_t>(std::max<std::int64_t>(0, latency)),
              static_cast<std::size_t>(second));
  return true;
}

void Recorder::merge(const Recorder& other) {
  for (const auto& s : other._steps) {
    step(s->name()).merge(*s);
  }
}

}  // namespace concertd::bench
