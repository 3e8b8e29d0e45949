// libFuzzer target: raw bytes from a client connection, end to end through the server's request
// handling. The bytes are framed by the server's own frame_buffered() over Beast's request_parser
// (a new parser per request, the server's header and body limits, reads of at most 4 KiB, pipelined
// requests until the input ends or a response closes the connection), each parsed request is
// turned into an http::Request by the server's own to_request(), and dispatched through the
// routes of one Application over an in-memory SQLite store, the in-process coordinator and a fake
// clock. The Application lives for the whole process, so state (tokens, holds, balances,
// payments, idempotency keys, concerts) grows across inputs as on a real server.
//
// Placeholders, replaced in the parsed request's path, headers and body (after framing, so that
// Content-Length stays the fuzzer's business): @T0@..@T3@ become a live token of users fuzz-0 ..
// fuzz-3 (issued afresh at the start of an input that names it, when the last one is spent or
// gone), @R0@..@R3@ the last reservation held with that token. The admin key is fuzz-admin-key.
//
// CONCERTD_FUZZ_TRACE=1 prints every request and its response (to check what a seed reaches).
//
// Properties (abort on violation): no 5xx but 503; /metrics stays small; a page or asset served (200 or 304) has
// a content type and an ETag, and a 304 no body; every other response is JSON;
// every status >= 400 is an object with string `error` and `code` (the documented /readyz 503 has
// `code` and `status`); 405 carries Allow; framing errors are 400, 404/405 (the route first) or 413
// and end the connection; a request that passed the header parse has not both Content-Length and
// chunked, nor a Content-Length over the limit; no request takes longer than 10 s (a wedged
// coroutine).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/json.hpp>

#include "../tests/unit/test_support.hpp"
#include "adapters/memory/memory_coordinator.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "app/application.hpp"
#include "domain/errors.hpp"
#include "http/beast_message.hpp"
#include "http/codec.hpp"
#include "http/dispatch.hpp"
#include "http/server.hpp"

namespace {

using namespace concertd;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;

constexpr std::size_t kReadChunk = 4096;  // as server.cpp reads its socket
constexpr int kMaxRequestsPerInput = 64;  // bounds one input's work
constexpr Millis kTimePerInput{100};      // holds (300 s) expire every 3000 inputs
constexpr int kSlots = 4;
const std::string kAdminKey = "fuzz-admin-key";

[[noreturn]] void fail(const char* what, const http::Request* request, const http::Response* response) {
  std::fprintf(stderr, "\n*** property violated: %s\n", what);
  if (request) {
    std::fprintf(stderr, "request: %s %s\n  authorization=%s idempotency-key=%s admin-key=%s\n  body(%zu)=%.*s\n",
                 request->method.c_str(), request->path.c_str(), request->authorization.value_or("<none>").c_str(),
                 request->idempotency_key.value_or("<none>").c_str(), request->admin_key.value_or("<none>").c_str(),
                 request->body.size(), static_cast<int>(std::min<std::size_t>(request->body.size(), 2000)),
                 request->body.data());
  }
  if (response) {
    std::fprintf(stderr, "response: %d %s\n  %.*s\n", response->status, std::string(response->content_type).c_str(),
                 static_cast<int>(std::min<std::size_t>(response->body.size(), 2000)), response->body.data());
  }
  std::abort();
}

/// The fuzz input as a socket: reads hand out at most kReadChunk bytes, then end of stream.
class InputStream {
 public:
  explicit InputStream(std::string_view data) : _data(data) {}

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, beast::error_code& ec) {
    if (_data.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    const std::size_t n = asio::buffer_copy(buffers, asio::buffer(_data.data(), std::min(_data.size(), kReadChunk)));
    _data.remove_prefix(n);
    return n;
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    beast::error_code ec;
    const std::size_t n = read_some(buffers, ec);
    if (ec) {
      throw beast::system_error(ec);
    }
    return n;
  }

 private:
  std::string_view _data;
};

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

std::string placeholder(char kind, int slot) { return std::string{'@', kind, static_cast<char>('0' + slot), '@'}; }

/// One server's worth of state for the whole process (never destroyed: the SQLite worker thread
/// must not be joined during static destruction).
class World {
 public:
  World()
      : _store(":memory:", [this](const Reservation&) { _metrics.count_release(); }),
        _coordinator(kConfig.queue_limits(), _clock),
        _app(_store, _coordinator, _clock, kConfig, kAdminKey, _metrics) {
    run(_app.prepare(true));
  }

  void one_input(std::string_view data) {
    _clock.advance(kTimePerInput);
    for (int slot = 0; slot < kSlots; ++slot) {
      if (data.find(placeholder('T', slot)) != std::string_view::npos) {
        refresh_token(slot);
      }
    }
    serve_connection(data);
    run(_app.run_jobs_once());
  }

 private:
  static constexpr ServiceConfig kConfig{1'000'000, Seconds{600}, Seconds{300}, Seconds{300}, 4};

  template <class T>
  T run(asio::awaitable<T> task) {
    try {
      return concertd::testing::run(_io, std::move(task));
    } catch (const std::runtime_error& e) {
      // testing::run gives up after 10 s: a request that never finishes wedges a connection.
      std::fprintf(stderr, "\n*** wedged or failed outside dispatch: %s\n", e.what());
      std::abort();
    }
  }

  /// The server's read loop of one connection, over the input.
  void serve_connection(std::string_view data) {
    InputStream stream(data);
    beast::flat_buffer buffer;
    const http::ServerLimits limits;  // the server's defaults: 16 KiB of headers, 64 KiB of body
    for (int n = 0; n < kMaxRequestsPerInput; ++n) {
      if (buffer.size() == 0) {
        beast::error_code read_ec;
        const std::size_t got = stream.read_some(buffer.prepare(kReadChunk), read_ec);
        if (read_ec) {
          return;
        }
        buffer.commit(got);
      }
      http::RequestParser parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.max_header));
      parser.body_limit(limits.max_body);
      http::Framing framing = http::frame_buffered(parser, buffer);
      while (framing == http::Framing::NeedMore) {
        beast::error_code read_ec;
        const std::size_t got = stream.read_some(buffer.prepare(kReadChunk), read_ec);
        if (read_ec) {
          return;  // the input ended inside a request: the server closes without an answer
        }
        buffer.commit(got);
        framing = http::frame_buffered(parser, buffer);
      }
      if (const auto refusal = http::framing_refusal(framing, parser, _app.router())) {
        check_refusal(framing, *refusal);
        return;  // the server closes the connection after it
      }
      check_header(parser.get(), limits);
      if (parser.get().body().size() > limits.max_body) {
        fail("a body over the limit was accepted", nullptr, nullptr);
      }
      auto beast_request = parser.release();
      const unsigned version = beast_request.version();
      const bool keep_alive = beast_request.keep_alive();
      http::Request request = http::to_request(std::move(beast_request), "127.0.0.1");
      substitute(request);
      std::string_view route;
      http::Response response = run(http::dispatch(_app.router(), request, route));
      _metrics.observe(route, request.method, response.status, 0.001);
      if (_trace) {
        std::fprintf(stderr, "%s %s -> %d %.*s\n", request.method.c_str(), request.path.c_str(), response.status,
                     static_cast<int>(std::min<std::size_t>(response.body.size(), 200)), response.body.data());
      }
      check_response(request, route, response);
      remember_reservation(request, route, response);
      std::string wire;
      const bool head = request.method == "HEAD";  // as the server: headers only
      const bool stays_open = http::write_response(response, version, keep_alive, wire, !head);
      check_wire(wire, response, head);
      if (!stays_open) {
        return;
      }
    }
  }

  static void check_header(const http::BeastRequest& req, const http::ServerLimits& limits) {
    const bool chunked = req.chunked();
    const bool has_length = req.find(bhttp::field::content_length) != req.end();
    if (chunked && has_length) {
      fail("a request with both Content-Length and chunked framing passed the header parse", nullptr, nullptr);
    }
    if (has_length && req.payload_size() && *req.payload_size() > limits.max_body) {
      fail("a Content-Length over the body limit passed the header parse", nullptr, nullptr);
    }
  }

  /// What the server answers on a framing error before closing: a body over the limit is a
  /// route error (405 with Allow) or 413; anything else the parser refused is 400.
  static void check_refusal(http::Framing framing, const http::Response& r) {
    const bool expected =
        framing == http::Framing::TooLarge ? (r.status == 404 || r.status == 405 || r.status == 413) : r.status == 400;
    if (!expected) {
      fail("framing error answered with an unexpected status", nullptr, &r);
    }
    if (r.status == 405 && !has_allow(r)) {
      fail("405 without Allow", nullptr, &r);
    }
    check_error_body(nullptr, "", r);
    std::string wire;
    http::write_response(r, 11, false, wire);
    check_wire(wire, r);
  }

  /// The bytes the server writes parse back, with Beast's own parser, into the same status and body
  /// (for a HEAD request: the status, and no body however long Content-Length says it is).
  static void check_wire(const std::string& wire, const http::Response& r, bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.skip(head);
    parser.body_limit(wire.size());
    boost::system::error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(wire), ec);
    if (ec || !parser.is_done() || used != wire.size() ||
        parser.get().result_int() != static_cast<unsigned>(r.status) ||
        parser.get().body() != (head ? std::string() : r.body)) {
      fail("the serialized response does not parse back to itself", nullptr, &r);
    }
  }

  static void check_error_body(const http::Request* request, std::string_view route, const http::Response& r) {
    boost::system::error_code ec;
    const json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) {
      fail("an error response is not a JSON object", request, &r);
    }
    const auto& o = v.get_object();
    const auto* code = o.if_contains("code");
    if (!code || !code->is_string() || code->get_string().empty()) {
      fail("an error response has no string `code`", request, &r);
    }
    const bool readyz = route == "/readyz" && r.status == 503;
    const auto* error = o.if_contains("error");
    if (!readyz && (!error || !error->is_string() || error->get_string().empty())) {
      fail("an error response has no string `error`", request, &r);
    }
  }

  static void check_response(const http::Request& request, std::string_view route, const http::Response& r) {
    if (r.status < 200 || r.status > 599) {
      fail("status out of range", &request, &r);
    }
    if (r.status >= 500 && r.status != 503) {
      fail("5xx other than 503 for a client request", &request, &r);
    }
    if (route == "/metrics" && r.status == 200) {
      if (r.content_type.rfind("text/plain", 0) != 0 || r.body.empty()) {
        fail("/metrics is not Prometheus text", &request, &r);
      }
      // Routes, methods and statuses are finite sets: no client may grow the series.
      if (r.body.size() > 256 * 1024) {
        fail("/metrics grows with client input", &request, &r);
      }
      return;
    }
    if ((route == "/" || route == "/admin" || route == "/assets/{name}" || route == "/docs" ||
         route == "/openapi.json") &&
        (r.status == 200 || r.status == 304)) {
      const bool tagged =
          std::any_of(r.headers.begin(), r.headers.end(), [](const auto& h) { return h.first == "ETag"; });
      if (r.content_type.empty() || !tagged || (r.status == 304) != r.body.empty()) {
        fail("a page response lacks a content type or an ETag, or a 304 has a body or a 200 none", &request, &r);
      }
      return;
    }
    if (r.content_type.rfind("application/json", 0) != 0) {
      fail("a response that is neither /metrics nor a page is not application/json", &request, &r);
    }
    if (r.status >= 400) {
      check_error_body(&request, route, r);
    } else {
      boost::system::error_code ec;
      (void)json::parse(r.body, ec);
      if (ec) {
        fail("a success response is not JSON", &request, &r);
      }
    }
    if (r.status == 405 && !has_allow(r)) {
      fail("405 without Allow", &request, &r);
    }
  }

  static bool has_allow(const http::Response& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Allow" && !value.empty()) {
        return true;
      }
    }
    return false;
  }

  void substitute(http::Request& request) const {
    auto in = [&](std::string& s) {
      if (s.find('@') == std::string::npos) {
        return;
      }
      for (int slot = 0; slot < kSlots; ++slot) {
        replace_all(s, placeholder('T', slot), _tokens[slot]);
        replace_all(s, placeholder('R', slot), _reservations[slot]);
      }
    };
    in(request.path);
    in(request.body);
    for (auto* header : {&request.authorization, &request.idempotency_key, &request.admin_key}) {
      if (*header) {
        in(**header);
      }
    }
  }

  /// A token for user fuzz-<slot>: the live one, or a new one when it was spent or dropped.
  void refresh_token(int slot) {
    http::Request request;
    request.method = "POST";
    request.path = "/api/queue/token";
    request.body = R"({"userId":"fuzz-)" + std::to_string(slot) + R"("})";
    std::string_view route;
    const http::Response response = run(http::dispatch(_app.router(), request, route));
    check_response(request, route, response);
    if (response.status != 200 && response.status != 201) {
      fail("the harness could not get a token", &request, &response);
    }
    _tokens[slot] = std::string(json::parse(response.body).at("token").as_string());
  }

  void remember_reservation(const http::Request& request, std::string_view route, const http::Response& response) {
    if (route != "/api/reservations" || response.status != 201 || !request.authorization) {
      return;
    }
    for (int slot = 0; slot < kSlots; ++slot) {
      if (!_tokens[slot].empty() && request.authorization->find(_tokens[slot]) != std::string::npos) {
        _reservations[slot] = std::string(json::parse(response.body).at("reservationId").as_string());
      }
    }
  }

  concertd::testing::FakeClock _clock;
  http::Metrics _metrics;
  sqlite::SqliteStore _store;
  MemoryCoordinator _coordinator;
  Application _app;
  asio::io_context _io{1};
  std::array<std::string, kSlots> _tokens;
  std::array<std::string, kSlots> _reservations;
  const bool _trace = std::getenv("CONCERTD_FUZZ_TRACE") != nullptr;  // print every exchange
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::err);  // 500s are logged before the abort explains them
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();
  world->one_input(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
