#include "http/router.hpp"

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
  const auto parts = split_path(request.path);
  RouteMatch result;
  for (const auto& route : _routes) {
    if (route.segments.size() != parts.size()) {
      continue;
    }
    std::vector<std::string> params;
    bool matches = true;
    for (std::size_t i = 0; i < parts.size() && matches; ++i) {
      if (is_param(route.segments[i])) {
        matches = !parts[i].empty();
        params.push_back(parts[i]);
      } else {
        matches = route.segments[i] == parts[i];
      }
    }
    if (!matches) {
      continue;
    }
    result.route = route.pattern;
    if (route.method == request.method) {
      result.handler = &route.handler;
      request.path_params = std::move(params);
      result.allow.clear();
      return result;
    }
    result.allow += result.allow.empty() ? route.method : ", " + route.method;
  }
  return result;
}

}  // namespace concertd::http
