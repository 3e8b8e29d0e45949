#include "domain/random.hpp"

#include <stdexcept>
#include <vector>

#include <openssl/rand.h>

namespace concertd {
namespace {

std::vector<unsigned char> random_bytes(std::size_t n) {
  std::vector<unsigned char> buf(n);
  if (RAND_bytes(buf.data(), static_cast<int>(n)) != 1) {
    throw std::runtime_error("CSPRNG failure");
  }
  return buf;
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

std::string random_id(std::string_view prefix) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto buf = random_bytes(16);
  std::string out(prefix);
  for (const unsigned char b : buf) {
    out += kHex[b >> 4];
    out += kHex[b & 0xF];
  }
  return out;
}

}  // namespace concertd
