#pragma once
// CONCERTD_ASSERT(condition, "what it means"): an invariant the code around it relies on, checked
// in every build, release included (unlike <cassert>, which NDEBUG turns off). A broken one is a
// bug, never a client's mistake: it prints the expression, the meaning and the place to stderr
// and aborts, so that the fuzzers, the sanitizer builds and the chaos test see a crash instead of
// a wrong answer carried on. Durable state is safe across the abort: every write is one
// transaction, and the crash tests show a killed process loses nothing it acknowledged.
//
// Client input is never asserted on: it is checked at the edge and answered with a 4xx. Keep the
// condition cheap: it runs on every call.

namespace concertd::detail {
[[noreturn]] void assertion_failed(const char* expression, const char* meaning, const char* file, int line) noexcept;
}  // namespace concertd::detail

/// For the end of a switch that covers every enumerator: the compiler warns (-Wswitch) when one
/// is added and not handled, and this marks what happens if a stored value is none of them.
#define CONCERTD_UNREACHABLE(meaning) ::concertd::detail::assertion_failed("unreachable", meaning, __FILE__, __LINE__)

#define CONCERTD_ASSERT(condition, meaning)            \
  (static_cast<bool>(condition) ? static_cast<void>(0) \
                                : ::concertd::detail::assertion_failed(#condition, meaning, __FILE__, __LINE__))
