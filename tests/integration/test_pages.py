"""The web pages' files, served from inside the binary: content types, gzip, ETag revalidation,
404 for what is not there, and the booking page's first load under 200 KB transferred."""
import gzip
import re

import pytest

from support import expect


def test_booking_page_is_html_with_an_etag_and_revalidates_to_304(server):
    r = server.get("/")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"
    etag = r.header("ETag")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag), etag
    assert "<html" in r.body.decode("utf-8") and 'lang="ko"' in r.body.decode("utf-8")
    again = server.get("/", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert again.header("ETag") == etag
    assert server.get("/", headers={"If-None-Match": '"0000"'}).status == 200


def test_files_are_gzipped_only_for_a_client_that_accepts_it(server):
    plain = server.get("/assets/app.js")
    assert plain.status == 200
    assert plain.header("Content-Type") == "text/javascript; charset=utf-8"
    assert plain.header("Content-Encoding") is None
    assert plain.header("Vary") == "Accept-Encoding"
    packed = server.get("/assets/app.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.header("Content-Encoding") == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    assert len(packed.body) < len(plain.body)
    refused = server.get("/assets/app.js", headers={"Accept-Encoding": "gzip;q=0"})
    assert refused.header("Content-Encoding") is None


@pytest.mark.parametrize("path", ["/assets/nope.js", "/assets/", "/assets/..%2Fconcertd.db", "/index.html",
                                  "/assets/app.js/x"])
def test_what_is_not_a_file_of_the_pages_is_404(server, path):
    expect(server.get(path), 404, "NOT_FOUND")


def test_the_booking_pages_first_load_is_under_200_kb_transferred(server):
    accept = {"Accept-Encoding": "gzip"}
    page = server.get("/", headers=accept)
    html = (gzip.decompress(page.body) if page.header("Content-Encoding") == "gzip" else page.body).decode()
    files = sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html)))
    assert files, "the page loads its script and style from /assets/"
    total = len(page.body)
    for f in files:
        r = server.get(f, headers=accept)
        assert r.status == 200, f
        total += len(r.body)
    assert total < 200 * 1024, f"{total} bytes over {len(files) + 1} files"


def test_the_dashboard_is_served_at_admin_without_the_key(server):
    # The page holds no data: it asks for the key and sends it with every API call.
    r = server.get("/admin")
    assert r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8"
    html = r.body.decode("utf-8")
    assert 'lang="ko"' in html and "/assets/admin.js" in html
    for f in sorted(set(re.findall(r'(?:src|href)="(/assets/[^"]+)"', html))):
        assert server.get(f).status == 200, f


@pytest.mark.parametrize("path", ["/", "/admin", "/assets/app.css"])
def test_pages_answer_head_with_the_headers_of_get(server, path):
    get, head = server.get(path), server.request("HEAD", path)
    assert head.status == 200 and head.body == b""
    for name in ("Content-Type", "ETag", "Content-Length"):
        assert head.header(name) == get.header(name), name
