// The pages' files: content types, gzip that inflates back to the bytes, ETag revalidation.
#include <gtest/gtest.h>
#include <zlib.h>

#include "http/assets.hpp"

namespace concertd::http {
namespace {

std::string gunzip(const std::string& in) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, 15 + 16), Z_OK);
  std::string out(1 << 20, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  stream.avail_in = static_cast<uInt>(in.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

std::optional<std::string> header(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return std::nullopt;
}

TEST(Assets, ContentTypesFollowTheExtensionAndUnknownFilesAreNotServed) {
  EXPECT_EQ(content_type_of("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_of("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_of("app.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_of("icon.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_of("README.md"), std::nullopt);
  EXPECT_EQ(content_type_of(".js"), std::nullopt);
}

TEST(Assets, GzipInflatesBackToTheSameBytes) {
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "좌석 " + std::to_string(i) + " ";
  }
  const std::string packed = gzip(text);
  EXPECT_LT(packed.size(), text.size() / 3);
  EXPECT_EQ(gunzip(packed), text);
}

TEST(Assets, TheBookingPageIsServedGzippedWhenAcceptedAndRevalidatedByItsETag) {
  const Assets assets;
  const Asset* page = assets.find("index.html");
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(assets.find("../index.html"), nullptr);

  Request plain;
  const Response full = Assets::respond(*page, plain);
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.body, page->body);
  EXPECT_EQ(header(full, "Content-Encoding"), std::nullopt);
  const auto etag = header(full, "ETag");
  ASSERT_TRUE(etag);
  EXPECT_EQ(etag->size(), 34u);  // 32 hex digits, quoted

  Request gzip_ok;
  gzip_ok.accept_encoding = "gzip, deflate, br";
  const Response packed = Assets::respond(*page, gzip_ok);
  EXPECT_EQ(header(packed, "Content-Encoding"), "gzip");
  EXPECT_EQ(gunzip(packed.body), page->body);

  for (const char* refused : {"gzip;q=0", "br, gzip; q=0.0", "identity"}) {
    Request r;
    r.accept_encoding = refused;
    EXPECT_EQ(header(Assets::respond(*page, r), "Content-Encoding"), std::nullopt) << refused;
  }
  Request weighted;
  weighted.accept_encoding = "gzip;q=0.5";
  EXPECT_EQ(header(Assets::respond(*page, weighted), "Content-Encoding"), "gzip");

  Request revalidate;
  revalidate.if_none_match = *etag;
  const Response unchanged = Assets::respond(*page, revalidate);
  EXPECT_EQ(unchanged.status, 304);
  EXPECT_TRUE(unchanged.body.empty());
  revalidate.if_none_match = "\"0123\"";
  EXPECT_EQ(Assets::respond(*page, revalidate).status, 200);
}

}  // namespace
}  // namespace concertd::http
