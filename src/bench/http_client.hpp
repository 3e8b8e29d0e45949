#pragma once
// The load generator's HTTP/1.1 client: one keep-alive connection per object, Asio coroutines.
// Beast stays inside http_client.cpp (the only translation unit compiling it); callers see
// plain strings and the Asio awaitable vocabulary.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "bench/stats.hpp"

namespace concertd::bench {

template <class T>
using Task = boost::asio::awaitable<T>;

/// "http://host:port" split; nullopt for anything else (https, a path, no port is allowed:
/// port 80 then).
struct BaseUrl {
  std::string host;
  std::string port;
};
std::optional<BaseUrl> parse_base_url(std::string_view url);

/// Resolves once at the start, so that no request pays for a lookup. Throws when it fails.
boost::asio::ip::tcp::endpoint resolve(const BaseUrl& url);

enum class Method { get, post };

/// Headers the contract uses; empty ones are not sent.
struct RequestHeaders {
  std::string_view bearer;
  std::string_view idempotency_key;
  std::string_view admin_key;
};

/// One request and its answer. `status` is 0 when no answer came, then `error` says why
/// ("timeout", "connect", "closed", "io"); for an HTTP answer `error` is empty.
struct Exchange {
  int status = 0;
  std::string error;
  std::string body;
  Clock::time_point sent;
  Clock::time_point received;
};

class HttpConnection {
 public:
  /// Responses larger than this fail with error "io" (a 5,000-seat map is about 250 KB).
  static constexpr std::size_t kBodyLimit = 8 * 1024 * 1024;

  HttpConnection(const boost::asio::any_io_executor& executor, boost::asio::ip::tcp::endpoint endpoint,
                 std::string host_header, std::chrono::milliseconds timeout);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// Sends one request (connecting first when needed) and reads its answer into `out`. Never
  /// throws for network trouble: that ends up in `out.error`. A kept-alive connection the
  /// server closed before answering is reopened and the request sent once more.
  Task<void> request(Method method, std::string_view target, std::string_view body, const RequestHeaders& headers,
                     Exchange& out);

  std::uint64_t reconnects() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> _impl;
};

}  // namespace concertd::bench
