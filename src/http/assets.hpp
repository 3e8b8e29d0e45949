#pragma once
// The web pages' files, built into the binary from web/ (no CDN, nothing read from disk at run
// time): each with its content type, an ETag from its bytes, and a gzip copy made once at start.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "http/types.hpp"

namespace concertd::http {

struct Asset {
  std::string_view content_type;  // a literal
  std::string body;
  std::string gzipped;  // empty when gzip does not make it smaller
  std::string etag;     // quoted, as the header carries it
};

class Assets {
 public:
  /// The embedded web/ files (every file of a type it serves).
  Assets();

  /// The asset named `name` (a file name in web/), or null.
  const Asset* find(std::string_view name) const;

  /// The answer to a GET of `asset`: 304 when the client's If-None-Match names its ETag, else the
  /// bytes, gzipped when the client accepts it. Revalidated on every use (no-cache): a new build
  /// is seen at once, and an unchanged file costs a 304.
  static Response respond(const Asset& asset, const Request& request);

 private:
  std::map<std::string, Asset, std::less<>> _by_name;
};

/// The content type of a file name's extension, or nullopt for a file the pages never serve.
std::optional<std::string_view> content_type_of(std::string_view file_name);
/// `text` in the gzip format (RFC 1952), at the best compression.
std::string gzip(std::string_view text);

}  // namespace concertd::http
