#include "http/auth.hpp"

#include "domain/errors.hpp"
#include "domain/token_signer.hpp"

namespace concertd::http {
namespace {

constexpr std::size_t kMaxTokenLength = 256;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view bearer_token(const Request& request) {
  if (!request.authorization) {
    throw ClientError(Refusal::MissingToken);
  }
  std::string_view value = *request.authorization;
  const std::size_t space = value.find(' ');
  if (space == std::string_view::npos || !iequals(value.substr(0, space), "Bearer")) {
    throw ClientError(Refusal::MissingToken);
  }
  std::string_view token = value.substr(space + 1);
  while (!token.empty() && token.front() == ' ') {
    token.remove_prefix(1);
  }
  if (token.empty() || token.size() > kMaxTokenLength) {
    throw ClientError(Refusal::MissingToken);
  }
  bool invisible = false;  // one test after the loop, which the compiler then vectorizes
  for (const char c : token) {
    invisible |= c <= 0x20 || c >= 0x7f;
  }
  if (invisible) {
    throw ClientError(Refusal::MissingToken);
  }
  return token;
}

void require_admin(const Request& request, const std::string& expected) {
  if (!request.admin_key || !constant_time_equal(*request.admin_key, expected)) {
    throw ClientError(Refusal::AdminKeyRequired);
  }
}

}  // namespace concertd::http
