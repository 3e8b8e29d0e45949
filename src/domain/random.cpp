#include "domain/random.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace concertd {
namespace {

/// CSPRNG bytes drawn from OpenSSL a page at a time per thread: one RAND_bytes call per id cost
/// more than the rest of a token issue. Bytes handed out are wiped from the pool.
class RandomPool {
 public:
  void take(unsigned char* out, std::size_t n) {
    while (n > 0) {
      if (_next == _bytes.size()) {
        if (RAND_bytes(_bytes.data(), static_cast<int>(_bytes.size())) != 1) {
          throw std::runtime_error("CSPRNG failure");
        }
        _next = 0;
      }
      const std::size_t chunk = std::min(n, _bytes.size() - _next);
      std::memcpy(out, _bytes.data() + _next, chunk);
      OPENSSL_cleanse(_bytes.data() + _next, chunk);
      _next += chunk;
      out += chunk;
      n -= chunk;
    }
  }

 private:
  std::array<unsigned char, 4096> _bytes{};
  std::size_t _next = _bytes.size();
};

std::vector<unsigned char> random_bytes(std::size_t n) {
  thread_local RandomPool pool;
  std::vector<unsigned char> buf(n);
  pool.take(buf.data(), n);
  return buf;
}

constexpr char kHex[] = "0123456789abcdef";

/// Fixed width, so that ids sort as their times do (2^48 ms: past the year 10,000).
void append_time(std::string& out, Timestamp created) {
  const auto ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, created.time_since_epoch().count()));
  for (int shift = 44; shift >= 0; shift -= 4) {
    out += kHex[(ms >> shift) & 0xF];
  }
}

}  // namespace

std::string random_base64url(std::size_t bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto buf = random_bytes(bytes);
  std::string out;
  out.reserve((bytes * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char b : buf) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(acc >> bits) & 0x3F];
    }
  }
  if (bits > 0) {
    out += kAlphabet[(acc << (6 - bits)) & 0x3F];
  }
  return out;
}

std::string time_ordered_token(Timestamp created, std::size_t bytes) {
  std::string out;
  out.reserve(12 + (bytes * 4 + 2) / 3);
  append_time(out, created);
  out += random_base64url(bytes);
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string out;
  out.reserve(bytes * 2);
  for (const unsigned char b : random_bytes(bytes)) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

std::string random_id(std::string_view prefix, Timestamp created) {
  std::string out(prefix);
  out.reserve(prefix.size() + 12 + 32);
  append_time(out, created);
  out += random_hex(16);
  return out;
}

}  // namespace concertd
