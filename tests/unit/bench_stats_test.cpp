#include <gtest/gtest.h>

#include <cmath>

#include "bench/stats.hpp"

namespace concertd::bench {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(BenchHistogram, UniformPercentilesWithinTheStatedError) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 1000; ++v) {
    h.record(v);
  }
  const double error = h.relative_error();
  EXPECT_LE(error, 0.01);
  EXPECT_NEAR(h.percentile(50), 500.0, 500.0 * error + 1e-9);
  EXPECT_NEAR(h.percentile(90), 900.0, 900.0 * error + 1e-9);
  EXPECT_NEAR(h.percentile(99), 990.0, 990.0 * error + 1e-9);
  EXPECT_NEAR(h.percentile(99.9), 999.0, 999.0 * error + 1e-9);
  EXPECT_EQ(h.max(), 1000u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 500.5);
  EXPECT_EQ(h.count(), 1000u);
}

TEST(BenchHistogram, WideRangeKeepsRelativeError) {
  Histogram h;
  // Exponentially spread values from 1 µs to 50 s: each percentile within the error of the
  // value of that rank.
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 2000; ++i) {
    values.push_back(static_cast<std::uint64_t>(std::pow(10.0, 7.7 * i / 1999.0)));
  }
  for (auto v : values) {
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  for (double p : {10.0, 50.0, 90.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
    const double truth = static_cast<double>(values[rank - 1]);
    EXPECT_NEAR(h.percentile(p), truth, truth * h.relative_error() + 1e-9) << p;
  }
}

TEST(BenchHistogram, SingleValueIsExactAtEveryPercentile) {
  Histogram h;
  h.record(12'345);
  for (double p : {0.1, 50.0, 99.0, 99.9, 100.0}) {
    EXPECT_DOUBLE_EQ(h.percentile(p), 12'345.0) << p;
  }
  EXPECT_EQ(h.max(), 12'345u);
  EXPECT_DOUBLE_EQ(h.mean(), 12'345.0);
}

TEST(BenchHistogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_DOUBLE_EQ(h.percentile(50), 0.0);
  EXPECT_DOUBLE_EQ(h.percentile(99.9), 0.0);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_DOUBLE_EQ(h.mean(), 0.0);
}

TEST(BenchHistogram, ValuesOverTheRangeKeepTheirMax) {
  Histogram h;
  h.record(100);
  h.record(Histogram::kMaxMicros * 10);
  EXPECT_EQ(h.max(), Histogram::kMaxMicros * 10);
  EXPECT_DOUBLE_EQ(h.percentile(100), static_cast<double>(Histogram::kMaxMicros * 10));
}

TEST(BenchHistogram, MergeEqualsRecordingEverythingInOne) {
  Histogram a;
  Histogram b;
  Histogram all;
  for (std::uint64_t v = 1; v <= 500; ++v) {
    a.record(v * 7);
    all.record(v * 7);
  }
  for (std::uint64_t v = 1; v <= 300; ++v) {
    b.record(v * 1000);
    all.record(v * 1000);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    EXPECT_DOUBLE_EQ(a.percentile(p), all.percentile(p)) << p;
  }
  Histogram empty;
  empty.merge(a);
  EXPECT_EQ(empty.min(), a.min());
}

TEST(BenchRecorder, RateOverTheWindowAndWarmupExcluded) {
  const auto t0 = Clock::time_point{} + seconds(100);
  Recorder rec(t0 + seconds(1), t0 + seconds(11));  // 1 s warmup, 10 s measured
  StepStats& step = rec.step("status");
  // 500 answers during warmup: none counted.
  for (int i = 0; i < 500; ++i) {
    const auto at = t0 + milliseconds(i);
    EXPECT_FALSE(rec.record(step, true, 200, "", at, at + microseconds(300)));
  }
  // 2,000 per second for 10 s; then a timeout that ends after the window.
  for (int i = 0; i < 20'000; ++i) {
    const auto at = t0 + seconds(1) + microseconds(i * 500);
    rec.record(step, true, 200, "", at, at + microseconds(400));
  }
  rec.record(step, false, 409, "SEAT_LOCKED", t0 + seconds(2), t0 + seconds(2) + milliseconds(3));
  rec.record(step, false, 0, "timeout", t0 + seconds(11) + milliseconds(1), t0 + seconds(12));
  EXPECT_EQ(step.ok(), 20'000u);
  EXPECT_EQ(step.errors(), 1u);
  EXPECT_NEAR(step.rate(rec.measured_seconds()), 2000.0, 1.0);
  EXPECT_EQ(step.by_status().at(200), step.ok());
  EXPECT_EQ(step.by_status().at(409), 1u);
  EXPECT_EQ(step.by_code().at("SEAT_LOCKED"), 1u);
  EXPECT_EQ(step.by_code().count("timeout"), 0u);
  ASSERT_EQ(step.series().size(), 10u);
  EXPECT_EQ(step.series()[0].ok, 2000u);
  EXPECT_EQ(step.series()[1].errors, 1u);
  EXPECT_NEAR(step.latency().percentile(50), 400.0, 400.0 * step.latency().relative_error());
}

TEST(BenchRecorder, MergeAddsStepsByName) {
  const auto t0 = Clock::time_point{};
  Recorder a(t0, t0 + seconds(5));
  Recorder b(t0, t0 + seconds(5));
  a.record(a.step("hold"), true, 201, "", t0, t0 + milliseconds(1));
  b.record(b.step("hold"), false, 409, "SEAT_LOCKED", t0, t0 + milliseconds(2));
  b.record(b.step("pay"), true, 200, "", t0, t0 + seconds(3));
  a.merge(b);
  ASSERT_EQ(a.steps().size(), 2u);
  EXPECT_EQ(a.step("hold").ok(), 1u);
  EXPECT_EQ(a.step("hold").errors(), 1u);
  EXPECT_EQ(a.step("pay").series().size(), 4u);
  EXPECT_EQ(a.step("pay").series()[3].ok, 1u);
}

}  // namespace
}  // namespace concertd::bench
