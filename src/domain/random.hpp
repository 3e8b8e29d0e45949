#pragma once
// Identifiers from the operating system's CSPRNG (OpenSSL RAND_bytes).
#include <string>
#include <string_view>

namespace concertd {

/// `bytes` random bytes, base64url without padding (32 bytes: 256 bits in 43 characters).
std::string random_base64url(std::size_t bytes);
/// "<prefix><128 random bits as 32 hex digits>", e.g. "res-3f2a…".
std::string random_id(std::string_view prefix);

}  // namespace concertd
