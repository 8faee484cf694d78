"""The local emulator's CORS layer on its own: S3's rule matching and a JSON API's preflight, with
a stand-in for moto behind it (the local stack's integration test sends the page's real ones)."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from imgpipe_tools.local.browser_cors import BrowserCors, CorsRule, parse_cors

PAGE = "http://127.0.0.1:8080"
CORS_XML = (
    b'<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule>'
    b"<AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin><AllowedOrigin>http://*.example.com</AllowedOrigin>"
    b"<AllowedMethod>POST</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>x-amz-*</AllowedHeader>"
    b"<AllowedHeader>Content-Type</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds>"
    b"</CORSRule></CORSConfiguration>"
)


def _moto(calls: list[str]) -> Any:
    """Answers GetBucketCors for bucket ``up`` and 200 "moto" for everything else."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}?{environ.get('QUERY_STRING', '')}")
        if environ.get("QUERY_STRING") == "cors":
            found = environ["PATH_INFO"] == "/up"
            start_response("200 OK" if found else "404 Not Found", [])
            return [CORS_XML if found else b"<Error/>"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"moto"]

    return app


def test_rules_match_as_s3_matches_them() -> None:
    [rule] = parse_cors(CORS_XML)
    assert rule == CorsRule(
        origins=(PAGE, "http://*.example.com"),
        methods=("POST", "PUT"),
        headers=("x-amz-*", "Content-Type"),
        expose=("ETag",),
        max_age_s=3000,
    )
    assert rule.allows(PAGE, "PUT", ["content-type", "X-Amz-Date"])
    assert rule.allows("http://a.example.com", "POST")
    assert not rule.allows(PAGE, "DELETE")
    assert not rule.allows("http://127.0.0.1:9999", "PUT")
    assert not rule.allows(PAGE, "PUT", ["authorization"])


def test_preflights_never_reach_moto_and_follow_the_bucket_rule() -> None:
    calls: list[str] = []
    client = Client(BrowserCors(_moto(calls)))
    asked = {"Origin": PAGE, "Access-Control-Request-Method": "POST"}
    cognito = client.options("/", headers={**asked, "Access-Control-Request-Headers": "content-type,x-amz-target"})
    assert cognito.status_code == 200 and cognito.headers["Access-Control-Allow-Origin"] == PAGE
    assert cognito.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-target"
    bucket = client.options("/up/a/b.jpg", query_string="partNumber=1", headers={**asked, "Origin": PAGE})
    assert bucket.status_code == 200 and bucket.headers["Access-Control-Expose-Headers"] == "ETag"
    assert client.options("/up", headers={**asked, "Origin": "http://evil.test"}).status_code == 403
    assert client.options("/nocors", headers=asked).status_code == 403
    # only the layer's own GetBucketCors reads reached moto, never an OPTIONS
    assert calls == ["GET /up?cors", "GET /up?cors", "GET /nocors?cors"]


def test_actual_answers_get_the_origin_when_moto_leaves_it_out() -> None:
    client = Client(BrowserCors(_moto([])))
    put = client.put("/up/a.jpg", headers={"Origin": PAGE}, data=b"x")
    assert put.headers["Access-Control-Allow-Origin"] == PAGE and put.headers["Access-Control-Expose-Headers"] == "ETag"
    assert "Access-Control-Allow-Origin" not in client.put("/up/a.jpg", headers={"Origin": "http://evil.test"}).headers
    assert client.post("/", headers={"Origin": PAGE}).headers["Access-Control-Allow-Origin"] == PAGE
    assert "Access-Control-Allow-Origin" not in client.get("/up/a.jpg").headers  # no Origin: not a browser's
