#pragma once
// Exact path routing with {param} segments: unknown path 404, known path with another method
// 405 with Allow. A trailing slash is another path.
#include <functional>
#include <string>
#include <vector>

#include "http/types.hpp"

namespace concertd::http {

using Handler = std::function<Task<Response>(Request&)>;

struct RouteMatch {
  const Handler* handler = nullptr;    // null: not found or method not allowed
  const std::string* route = nullptr;  // the pattern, the metrics label; null: no path matched
  std::string allow;                   // for 405: methods of the path, comma-separated
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler);
  /// Fills `request.path_params` on a match.
  RouteMatch match(Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{x}" matches any non-empty segment
    Handler handler;
  };
  std::vector<Route> _routes;
};

}  // namespace concertd::http
