#include "http/router.hpp"

#include <array>
#include <string_view>

namespace concertd::http {
namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path[0] != '/') {
    return out;
  }
  std::size_t start = 1;
  for (;;) {
    const std::size_t slash = path.find('/', start);
    out.emplace_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return out;
}

bool is_param(const std::string& segment) { return segment.size() > 2 && segment.front() == '{' && segment.back() == '}'; }

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  auto segments = split_path(pattern);
  _routes.push_back(Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

RouteMatch Router::match(Request& request) const {
  // The path's segments as views into it, without allocating: a route has at most
  // kMaxSegments, so a longer path matches none.
  constexpr std::size_t kMaxSegments = 8;
  std::array<std::string_view, kMaxSegments> parts;
  std::size_t count = 0;
  const std::string_view path = request.path;
  bool too_long = path.empty() || path[0] != '/';
  for (std::size_t start = 1; !too_long;) {
    const std::size_t slash = path.find('/', start);
    if (count == kMaxSegments) {
      too_long = true;
      break;
    }
    parts[count++] = path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  RouteMatch result;
  if (too_long) {
    return result;
  }
  for (const auto& route : _routes) {
    if (route.segments.size() != count) {
      continue;
    }
    bool matches = true;
    for (std::size_t i = 0; i < count && matches; ++i) {
      matches = is_param(route.segments[i]) ? !parts[i].empty() : route.segments[i] == parts[i];
    }
    if (!matches) {
      continue;
    }
    result.route = &route.pattern;
    if (route.method == request.method) {
      result.handler = &route.handler;
      request.path_params.clear();
      for (std::size_t i = 0; i < count; ++i) {
        if (is_param(route.segments[i])) {
          request.path_params.emplace_back(parts[i]);
        }
      }
      result.allow.clear();
      return result;
    }
    result.allow += result.allow.empty() ? route.method : ", " + route.method;
  }
  return result;
}

}  // namespace concertd::http
