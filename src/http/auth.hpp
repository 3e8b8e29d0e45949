#pragma once
// Reading credentials off a request: bearer tokens and the admin key.
#include <optional>
#include <string>
#include <string_view>

#include "http/types.hpp"

namespace concertd::http {

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, 1 to 256 visible
/// ASCII characters), else 401 MISSING_TOKEN. A view into the request's header.
std::string_view bearer_token(const Request& request);

/// 401 ADMIN_KEY_REQUIRED unless X-Admin-Key equals `expected` (compared in constant time).
void require_admin(const Request& request, const std::string& expected);

}  // namespace concertd::http
