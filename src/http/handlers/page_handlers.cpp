// GET /, GET /admin, GET /assets/{name}, GET /docs, GET /openapi.json: the fans' booking page, the
// operators' dashboard, the API reference and their files (web/, built into the binary). The
// dashboard page itself is public; its data needs the admin key.
#include "domain/errors.hpp"
#include "http/assets.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

/// `name` is a file name in web/; one that is not there is 404, as an unknown path is.
Response asset_response(const Assets& assets, std::string_view name, const Request& request) {
  const Asset* asset = assets.find(name);
  if (asset == nullptr) {
    throw ClientError(Refusal::RouteNotFound);
  }
  return Assets::respond(*asset, request);
}

Task<Response> booking_page(App& app, Request& request) { co_return asset_response(app.assets, "index.html", request); }

Task<Response> dashboard_page(App& app, Request& request) {
  co_return asset_response(app.assets, "admin.html", request);
}

Task<Response> api_reference_page(App& app, Request& request) {
  co_return asset_response(app.assets, "docs.html", request);
}

/// The OpenAPI 3.1 document of every route, web/openapi.json; the page at /docs renders it.
Task<Response> openapi_document(App& app, Request& request) {
  co_return asset_response(app.assets, "openapi.json", request);
}

Task<Response> asset(App& app, Request& request) {
  // Still percent-encoded: the pages' file names are plain ASCII, so an escaped name is no file.
  co_return asset_response(app.assets, request.path_params.front(), request);
}

}  // namespace

void add_page_routes(Router& router, App& app) {
  // HEAD too (the server sends the headers only), as browsers and link checkers expect of pages;
  // the API's routes answer it 405.
  for (const char* method : {"GET", "HEAD"}) {
    router.add(method, "/", [&app](Request& r) { return booking_page(app, r); });
    router.add(method, "/admin", [&app](Request& r) { return dashboard_page(app, r); });
    router.add(method, "/assets/{name}", [&app](Request& r) { return asset(app, r); });
    router.add(method, "/docs", [&app](Request& r) { return api_reference_page(app, r); });
    router.add(method, "/openapi.json", [&app](Request& r) { return openapi_document(app, r); });
  }
}

}  // namespace concertd::http
