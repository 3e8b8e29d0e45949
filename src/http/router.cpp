#include "http/router.hpp"

#include <array>
#include <stdexcept>
#include <string_view>

#include "domain/assert.hpp"

namespace concertd::http {
namespace {

/// No route has more segments, so a longer path matches none.
constexpr std::size_t kMaxSegments = 8;

/// The segments of "/a/b/c" as views into the path, without allocating; `valid` is false when
/// the path does not start with '/' or has more than kMaxSegments.
struct PathSegments {
  std::array<std::string_view, kMaxSegments> parts;
  std::size_t count = 0;
  bool valid = false;
};

PathSegments split_path(std::string_view path) {
  PathSegments out;
  if (path.empty() || path[0] != '/') {
    return out;
  }
  for (std::size_t start = 1;;) {
    if (out.count == kMaxSegments) {
      return out;
    }
    const std::size_t slash = path.find('/', start);
    out.parts[out.count++] =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (slash == std::string_view::npos) {
      out.valid = true;
      return out;
    }
    start = slash + 1;
  }
}

bool is_param(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  const PathSegments split = split_path(pattern);
  CONCERTD_ASSERT(split.valid, "a route pattern starts with '/' and has at most 8 segments");
  std::vector<std::string> segments(split.parts.begin(),
                                    split.parts.begin() + static_cast<std::ptrdiff_t>(split.count));
  for (const auto& route : _routes) {
    // Two handlers for one method and path: the second would never run. Parameter names do not
    // count: /a/{x} and /a/{y} are the same route.
    bool same = route.method == method && route.segments.size() == segments.size();
    for (std::size_t i = 0; same && i < segments.size(); ++i) {
      same = is_param(segments[i]) ? is_param(route.segments[i]) : route.segments[i] == segments[i];
    }
    CONCERTD_ASSERT(!same, "one handler per method and path");
  }
  _routes.push_back(Route{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

RouteMatch Router::match(Request& request) const {
  const PathSegments path = split_path(request.path);
  RouteMatch result;
  if (!path.valid) {
    return result;
  }
  const std::size_t count = path.count;
  const auto& parts = path.parts;
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
