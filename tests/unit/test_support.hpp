#pragma once
// Runs the services' coroutines to completion in tests, on a private io_context, and fakes time.
#include <chrono>
#include <filesystem>
#include <future>
#include <string>

#include <boost/asio.hpp>

#include "domain/random.hpp"
#include "ports/clock.hpp"

namespace concertd::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(Timestamp start = from_millis(1'780'000'000'000)) : _now(start) {}
  Timestamp now() const override { return _now; }
  void advance(Millis by) { _now += by; }

 private:
  Timestamp _now;
};

/// A fresh directory under the system's temporary one, removed with everything in it.
struct TempDir {
  std::filesystem::path path = std::filesystem::temp_directory_path() / ("concertd-test-" + random_base64url(9));
  TempDir() { std::filesystem::create_directories(path); }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
};

/// Drives `task` until it finishes (bounded: a stuck task fails the test instead of hanging).
template <class T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  io.restart();  // a previous run may have left the context stopped
  auto future = boost::asio::co_spawn(io, std::move(task), boost::asio::use_future);
  auto guard = boost::asio::make_work_guard(io);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("task did not finish within 10 s");
    }
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return future.get();
}

}  // namespace concertd::testing
