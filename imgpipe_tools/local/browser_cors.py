"""The browser's CORS with the local AWS emulation, answered by us and not by moto's routing.

The web app signs in against Cognito's JSON API and uploads to S3 directly, from another origin (the
front door's), so the browser sends CORS preflights (``OPTIONS``) to the emulator first. How moto
routes an ``OPTIONS`` request is an internal detail that changed in a patch release (5.2.6 sent
Cognito's preflight, ``OPTIONS /``, to S3's ListBuckets, which answered 500, and nobody could sign
in), so the emulator's server puts this WSGI layer in front of moto:

- a **preflight** (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) never reaches
  moto. ``/`` is where the JSON APIs (Cognito's among them) take their ``X-Amz-Target`` POSTs: the
  preflight is allowed from any origin, as Cognito's public endpoint allows it. ``/<bucket>[/<key>]``
  is S3's path-style addressing: the answer follows the bucket's CORS configuration, read through
  S3's own API (``GET /<bucket>?cors``), matched as S3 matches it (first rule whose origin, method
  and every requested header are allowed), and a preflight no rule allows gets S3's 403;
- an **actual request** from a page (it has an ``Origin``) goes to moto, and its answer gets the
  same ``Access-Control-Allow-Origin`` (and, for S3, ``Access-Control-Expose-Headers``) when moto
  left them out, so the browser can read the answer whatever moto does with CORS.

Everything else passes through untouched.
"""

from __future__ import annotations

import fnmatch
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from werkzeug.test import Client

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: how long a browser may cache an allowed JSON API preflight (Cognito's own answer says a day)
JSON_API_MAX_AGE_S = 86400
#: an S3-shaped signature: moto routes a request by the service named in its credential scope
_S3_AUTH = "AWS4-HMAC-SHA256 Credential=local/20250101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
_DENIED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessForbidden</Code>'
    b"<Message>CORSResponse: This CORS request is not allowed. This is usually because the evalution "
    b"of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers "
    b"are not whitelisted by the resource's CORS spec.</Message></Error>"
)


@dataclass(frozen=True)
class CorsRule:
    """One rule of a bucket's CORS configuration."""

    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age_s: int | None = None

    def allows(self, origin: str, method: str, headers: Iterable[str] = ()) -> bool:
        """S3's match: the origin and every requested header against the rule's patterns (one
        ``*`` wildcard each, headers case-insensitively), the method exactly."""
        if method not in self.methods or not any(fnmatch.fnmatchcase(origin, o) for o in self.origins):
            return False
        allowed = [h.lower() for h in self.headers]
        return all(any(fnmatch.fnmatchcase(h.lower(), a) for a in allowed) for h in headers)


def parse_cors(xml: bytes) -> list[CorsRule]:
    """The rules of a ``GetBucketCors`` answer (namespaced or not)."""
    rules = []
    for rule in ET.fromstring(xml).iter():
        if _local(rule.tag) != "CORSRule":
            continue
        values: dict[str, list[str]] = {}
        for child in rule:
            values.setdefault(_local(child.tag), []).append((child.text or "").strip())
        max_age = values.get("MaxAgeSeconds")
        rules.append(
            CorsRule(
                origins=tuple(values.get("AllowedOrigin", ())),
                methods=tuple(values.get("AllowedMethod", ())),
                headers=tuple(values.get("AllowedHeader", ())),
                expose=tuple(values.get("ExposeHeader", ())),
                max_age_s=int(max_age[0]) if max_age else None,
            )
        )
    return rules


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _requested_headers(environ: Mapping[str, Any]) -> list[str]:
    raw = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
    return [h.strip() for h in raw.split(",") if h.strip()]


def _bucket(environ: Mapping[str, Any]) -> str | None:
    """The bucket of a path-style S3 URL (None for ``/``, the JSON APIs' path)."""
    path = environ.get("PATH_INFO", "/")
    name = path.lstrip("/").split("/", 1)[0]
    return name or None


class BrowserCors:
    """WSGI middleware: CORS for the browser's requests, in front of ``app`` (moto)."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        # moto's Flask apps are created lazily per service, under moto's own lock; reading a
        # bucket's CORS goes through the same app, one at a time, as a tiny share of the traffic
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            status, headers, body = self.preflight(environ, origin)
            start_response(status, [*headers.items(), ("Content-Length", str(len(body)))])
            return [body]
        extra = self._actual_headers(environ, origin)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            added = [(k, v) for k, v in extra.items() if k.lower() not in present]
            return start_response(status, [*headers, *added], exc_info)

        return self.app(environ, start)

    # --- preflights --------------------------------------------------------------------------
    def preflight(self, environ: Mapping[str, Any], origin: str) -> tuple[str, dict[str, str], bytes]:
        method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
        requested = _requested_headers(environ)
        vary = {"Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"}
        bucket = _bucket(environ)
        if bucket is None:
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Max-Age": str(JSON_API_MAX_AGE_S),
                **vary,
            }
            if requested:
                headers["Access-Control-Allow-Headers"] = ", ".join(requested)
            return "200 OK", headers, b""
        rule = self._matching_rule(bucket, origin, method, requested)
        if rule is None:
            return "403 Forbidden", {"Content-Type": "application/xml", **vary}, _DENIED
        headers = {
            "Access-Control-Allow-Origin": "*" if rule.origins == ("*",) else origin,
            "Access-Control-Allow-Methods": ", ".join(rule.methods),
            **vary,
        }
        if requested:
            headers["Access-Control-Allow-Headers"] = ", ".join(requested)
        if rule.expose:
            headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
        if rule.max_age_s is not None:
            headers["Access-Control-Max-Age"] = str(rule.max_age_s)
        return "200 OK", headers, b""

    # --- actual requests ---------------------------------------------------------------------
    def _actual_headers(self, environ: Mapping[str, Any], origin: str) -> dict[str, str]:
        bucket = _bucket(environ)
        if bucket is None:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        rule = self._matching_rule(bucket, origin, environ.get("REQUEST_METHOD", "GET"), ())
        if rule is None:
            return {}
        headers = {"Access-Control-Allow-Origin": "*" if rule.origins == ("*",) else origin, "Vary": "Origin"}
        if rule.expose:
            headers["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
        return headers

    def _matching_rule(self, bucket: str, origin: str, method: str, headers: Iterable[str]) -> CorsRule | None:
        requested = list(headers)
        return next((r for r in self.bucket_cors(bucket) if r.allows(origin, method, requested)), None)

    def bucket_cors(self, bucket: str) -> list[CorsRule]:
        """The bucket's CORS rules, through S3's API (none when the bucket has none, or is absent)."""
        with self._lock:
            answer = Client(self.app).get(
                f"/{bucket}", query_string="cors", headers={"Authorization": _S3_AUTH, "Host": "localhost"}
            )
            body = answer.get_data()
        if answer.status_code != 200:
            return []
        return parse_cors(body)
