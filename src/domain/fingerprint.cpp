#include "domain/fingerprint.hpp"

#include <algorithm>
#include <vector>

#include <openssl/sha.h>
#include <boost/json.hpp>

namespace concertd {
namespace {

/// JSON nesting is bounded by the body parser's depth limit, so this recursion is bounded too.
void write_canonical(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(obj.size());
      for (const auto& kv : obj) {
        members.push_back(&kv);
      }
      std::sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out += '{';
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (i > 0) {
          out += ',';
        }
        out += boost::json::serialize(boost::json::value(members[i]->key()));
        out += ':';
        write_canonical(members[i]->value(), out);
      }
      out += '}';
      break;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) {
          out += ',';
        }
        first = false;
        write_canonical(item, out);
      }
      out += ']';
      break;
    }
    default:
      out += boost::json::serialize(v);
  }
}

}  // namespace

std::string canonical_json(const boost::json::value& v) {
  std::string out;
  write_canonical(v, out);
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA256_DIGEST_LENGTH);
  for (const unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xF];
  }
  return hex;
}

std::string body_fingerprint(const boost::json::value& v) { return sha256_hex(canonical_json(v)); }

}  // namespace concertd
