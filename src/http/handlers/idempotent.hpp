#pragma once
// The order the contract sets for a request with an Idempotency-Key: claim the key (409 while
// in flight), replay a recorded success or refuse a reused key (422), and only then run every
// other check of the endpoint. The claim is let go whatever happens.
#include <exception>
#include <functional>

#include <spdlog/spdlog.h>

#include "http/handlers/app.hpp"

namespace concertd::http {

inline Task<Response> run_idempotent(App& app, const std::string& user_id, const std::optional<IdempotencyStamp>& stamp,
                                     const std::function<Task<Response>(const std::string& recorded_ref)>& replay,
                                     const std::function<Task<Response>()>& work) {
  if (!stamp) {
    co_return co_await work();
  }
  if (auto recorded = co_await app.idempotency.claim(user_id, *stamp)) {
    co_return co_await replay(*recorded);
  }
  std::exception_ptr failure;
  Response response;
  try {
    response = co_await work();
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    co_await app.idempotency.release(user_id, *stamp);
  } catch (const Unavailable& e) {
    /// The outcome stands (a committed success must not become a 503); the claim lapses by
    /// itself after IdempotencyKeys::kClaimTtl.
    spdlog::warn("idempotency key not released (lapses by itself): {}", e.what());
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  co_return response;
}

}  // namespace concertd::http
