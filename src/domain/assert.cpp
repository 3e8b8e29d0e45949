#include "domain/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace concertd::detail {

void assertion_failed(const char* expression, const char* meaning, const char* file, int line) noexcept {
  // stdio rather than the logger: it works before the logger is set up and after it failed.
  std::fprintf(stderr, "concertd: assertion failed at %s:%d: %s (%s)\n", file, line, meaning, expression);
  std::fflush(stderr);
  std::abort();
}

}  // namespace concertd::detail
