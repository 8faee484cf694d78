"""The front door, locally: what the CloudFront distribution and API Gateway do in AWS, on one port.

- ``/api/*``: the HTTP service's routes (from its manifest, as API Gateway's are), each behind a
  stand-in for API Gateway's JWT authorizer that validates real tokens of moto's Cognito user pool
  (signature against the pool's JWKS, issuer, audience or client_id, expiry) and fills
  ``requestContext.authorizer.jwt.claims`` as API Gateway does; then the real handler runs with the
  configuration ``infra/`` would give it, and its answer is sent back;
- ``/v/<variant key>``: the variant's bytes from the variants bucket, as the CDN path serves them;
- ``/``: the web app (``web/dist``, built by ``make web``) with the security headers of
  ``web/headers.json``, and ``/config.json``, what the page learns about the stack (the user pool,
  the Cognito endpoint, the API's limits), as the site bucket serves both in AWS.

The browser signs in against moto's Cognito and uploads to moto's S3 directly (another port), so
nothing is proxied. The uploads bucket gets the CORS rule the stack gives it in AWS (this origin,
``ETag`` exposed for multipart); the emulator's own server answers the browser's CORS from that
rule, and Cognito's preflight, itself, never through moto's routing (browser_cors.py).

A demo user is created at start; :meth:`LocalFrontDoor.create_user` and :meth:`sign_in` are what
the e2e tests (and the CLI) use to get real tokens.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from imgpipe.config import Config, use_config
from imgpipe.manifest import Manifest
from imgpipe.needs import Need, Resource
from imgpipe.outputs import (
    VIEWER_PREFIX,
    is_served,
    servable,
)
from imgpipe.registry import (
    StackNames,
    discover,
    function_config,
    outputs_spec,
    served_visibilities,
    service_module,
    transform_bounds,
)
from imgpipe.settings import parse
from imgpipe_tools.local.lambda_env import LambdaContext
from imgpipe_tools.local.provision import generated_secret
from imgpipe_tools.outputs import PASSWORD_POLICY, cognito_password_policy
from imgpipe_tools.resources import StackResources

log = logging.getLogger("imgpipe_tools.local.frontdoor")

DEMO_EMAIL = "demo@example.com"


def demo_password() -> str:
    """A new password for the demo user at every start (printed with the address): a fixed one,
    written in the docs, would be every local stack's password. It meets the pool's rule: 12 or
    more characters with a lowercase and an uppercase letter, a digit and a symbol."""
    return f"Demo-{secrets.token_urlsafe(12)}-9a!"


#: the Cache-Control the distribution gives variants (infra/components/frontdoor.py)
VARIANT_CACHE_CONTROL = "public, max-age=31536000, immutable"
_JSON = "application/json"
_REPO = Path(__file__).resolve().parents[2]
#: the built web app (web/build.mjs writes it; `make web`)
SITE_DIR = _REPO / "web" / "dist"
#: the page's CSP and security headers, shared with the CloudFront response headers policy
HEADERS_FILE = _REPO / "web" / "headers.json"
SITE_MISSING = "The web app is not built: run `make web` (it writes web/dist/), then reload."
_SITE_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".map": _JSON,
    ".json": _JSON,
    ".png": "image/png",
    ".ico": "image/x-icon",
}
#: index.html and config.json change between builds and stacks; the bundles are named by hash
_REVALIDATE = "no-cache"
_IMMUTABLE = "public, max-age=31536000, immutable"


def security_headers(uploads_origin: str, auth_origin: str, path: Path = HEADERS_FILE) -> dict[str, str]:
    """web/headers.json as response headers, ``{uploads}`` and ``{auth}`` filled in."""
    spec = json.loads(path.read_text())
    fill = {"{uploads}": uploads_origin, "{auth}": auth_origin}
    directives = []
    for name, sources in spec["content_security_policy"].items():
        values = list(dict.fromkeys(fill.get(v, v) for v in sources))
        directives.append(" ".join([name, *values]))
    return {"Content-Security-Policy": "; ".join(directives), **spec["headers"]}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def answer_posts_like_s3() -> None:
    """Make the in-process moto answer a presigned POST as S3 does. S3's 204 carries the object's
    ``ETag`` and ``Location`` and the bucket's CORS headers (``Access-Control-Expose-Headers``);
    moto's carries none of them, so a browser cannot read them and Uppy reports a misconfigured
    bucket on the console for every file. Idempotent; nothing changes for other requests."""
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_imgpipe_posts_like_s3", False):
        return
    original = S3Response._bucket_response_post

    def post(self: Any, request: Any, bucket_name: str) -> Any:
        answer = original(self, request, bucket_name)
        status, headers, body = answer
        key = (self.querystring.get("key") or [None])[0]
        if not (200 <= int(status) < 300) or key is None or self.is_delete_keys():
            return answer
        stored = self.backend.get_object(bucket_name, key)
        location = f"{request.url.split('?', 1)[0].rstrip('/')}/{quote(key)}"
        extra = {"ETag": stored.etag, "Location": location} if stored is not None else {}
        return status, {**self._get_cors_headers_other(), **headers, **extra}, body

    S3Response._bucket_response_post = post
    S3Response._imgpipe_posts_like_s3 = True


_SIGNATURE_MISMATCH = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request '
    b"signature we calculated does not match the signature you provided: a signed header is missing."
    b"</Message></Error>"
)


def require_signed_headers_like_s3() -> None:
    """Make the in-process moto refuse a presigned PUT that leaves out a header its URL signed,
    as S3 does (403 SignatureDoesNotMatch). moto checks no signatures at all; without this, a
    client could drop the upload ticket's ``If-None-Match: *`` locally and write the key twice,
    which S3 refuses. (The headers' values are S3's to check against the signature.) Idempotent."""
    from moto.s3.responses import S3Response

    if getattr(S3Response, "_imgpipe_signed_headers", False):
        return
    original = S3Response._key_response_put

    def put(self: Any, query: dict[str, Any], key_name: str) -> Any:
        signed = (query.get("X-Amz-SignedHeaders") or [""])[0].split(";")
        # Content-Length is implied by the body; S3 checks its value against the signature
        if any(h not in ("", "host", "content-length") and self.headers.get(h) is None for h in signed):
            return 403, {"Content-Type": "application/xml", **self._get_cors_headers_other()}, _SIGNATURE_MISMATCH
        return original(self, query, key_name)

    S3Response._key_response_put = put
    S3Response._imgpipe_signed_headers = True


class Unauthorized(Exception):
    """The token is missing, malformed, badly signed, expired, or not for this pool and client."""


@dataclass(frozen=True)
class Credentials:
    email: str
    password: str


class JwtVerifier:
    """What API Gateway's JWT authorizer checks, on moto's Cognito tokens: the signature with the
    pool's JWKS (fetched once, again for an unknown key id), ``iss``, ``aud`` (ID token) or
    ``client_id`` (access token), ``exp`` and ``iat``."""

    def __init__(self, endpoint: str, region: str, pool_id: str, client_id: str) -> None:
        self.issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        self.jwks_url = f"{endpoint}/{pool_id}/.well-known/jwks.json"
        self.client_id = client_id
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _key(self, kid: str) -> Any:
        import jwt

        with self._lock:
            if kid not in self._keys:
                with urllib.request.urlopen(self.jwks_url, timeout=10) as r:
                    jwks = jwt.PyJWKSet.from_dict(json.load(r))
                self._keys = {k.key_id: k.key for k in jwks.keys if k.key_id}
            if kid not in self._keys:
                raise Unauthorized(f"unknown key id {kid!r}")
            return self._keys[kid]

    def verify(self, authorization: str | None) -> dict[str, Any]:
        import jwt

        if not authorization:
            raise Unauthorized("no Authorization header")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else authorization
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claims = jwt.decode(
                token,
                key=self._key(str(kid)),
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
                leeway=0,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from None
        # API Gateway takes the client id from aud (ID tokens) or client_id (access tokens).
        audience = claims.get("aud", claims.get("client_id"))
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise Unauthorized("the token is for another client")
        return claims


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    public: bool


def _routes(manifest: Manifest) -> list[_Route]:
    http = manifest.http
    assert http is not None
    routes = []
    for route in http.routes:
        method, template = route.split(" ", 1)
        regex = re.sub(r"\\\{([a-z_][a-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        routes.append(_Route(method, template, re.compile(f"^{regex}$"), route in http.public_routes))
    return routes


def _claims_as_gateway_passes_them(claims: Mapping[str, Any]) -> dict[str, str]:
    # API Gateway hands every claim to the function as a string (lists as "[a b]").
    def text(v: Any) -> str:
        if isinstance(v, list):
            return "[" + " ".join(map(str, v)) + "]"
        return str(v)

    return {k: text(v) for k, v in claims.items()}


def create_user(cognito: Any, pool_id: str, email: str, password: str) -> str:
    """A confirmed user of the pool with a permanent password (as an admin creates one); its sub."""
    user = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )["User"]
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def sign_in(cognito: Any, client_id: str, email: str, password: str) -> dict[str, str]:
    """The tokens a browser gets (USER_PASSWORD_AUTH): AccessToken, IdToken, RefreshToken..."""
    r = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return r["AuthenticationResult"]


class LocalFrontDoor:
    def __init__(
        self,
        *,
        manifest: Manifest,
        config: Config,
        clients: Callable[[str], Any],
        endpoint: str,
        region: str = "us-east-1",
        port: int = 0,
        demo: Credentials | None = None,
        site: Path = SITE_DIR,
        edge: Mapping[str, tuple[Manifest, Config]] | None = None,
        served_visibilities: Sequence[str] = (),
    ) -> None:
        self.manifest = manifest
        #: path prefix ("/t/") -> the edge service the CDN would send it to, and its configuration
        self.edge = dict(edge or {})
        #: the visibility tags /v/* may serve, as the bucket policy decides (imgpipe/outputs.py);
        #: a held output is 404, as the bucket policy denies it
        self.served_visibilities = tuple(served_visibilities)
        self.site = site
        self.routes = _routes(manifest)
        self._client = clients
        self._endpoint = endpoint
        self.region = region
        self._port = port
        self._base_config = config
        self.demo = demo if demo is not None else Credentials(DEMO_EMAIL, demo_password())
        self.pool_id = ""
        self.client_id = ""
        self.config = config
        self.verifier: JwtVerifier | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Powertools' resolver keeps the current event on the app: one request at a time, as one
        # Lambda instance serves them.
        self._handler_lock = threading.Lock()
        self._handler: Callable[[dict[str, Any], Any], dict[str, Any]] | None = None

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> LocalFrontDoor:
        cognito = self._client("cognito-idp")
        self.pool_id = cognito.create_user_pool(
            PoolName="imgpipe-local-users",
            UsernameAttributes=["email"],
            AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": cognito_password_policy()},
        )["UserPool"]["Id"]
        self.client_id = cognito.create_user_pool_client(
            UserPoolId=self.pool_id,
            ClientName="browser",
            GenerateSecret=False,
            # the flows the page uses, as the stack's app client allows them (infra/components/frontdoor.py)
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            EnableTokenRevocation=True,
        )["UserPoolClient"]["ClientId"]
        self.verifier = JwtVerifier(self._endpoint, self.region, self.pool_id, self.client_id)
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._request_handler())
        self._server.daemon_threads = True
        # The delivery URL is this server's: the API's variant links point here, as they point at
        # the distribution in AWS.
        self.config = Config(
            processor=self._base_config.processor,
            uploads_bucket=self._base_config.uploads_bucket,
            variants_bucket=self._base_config.variants_bucket,
            event_bus=self._base_config.event_bus,
            settings=self._base_config.settings,
            resources={**self._base_config.resources, Need.DELIVERY_URL: self.url},
        )
        self._handler = service_module(self.manifest, "handler").handler
        self._allow_browser_uploads()
        answer_posts_like_s3()
        require_signed_headers_like_s3()
        if self.demo:
            self.create_user(self.demo.email, self.demo.password)
        self._thread = threading.Thread(target=self._server.serve_forever, name="imgpipe-frontdoor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the front door is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def site_built(self) -> bool:
        return (self.site / "index.html").is_file()

    def _page_origins(self) -> list[str]:
        # a newcomer may type localhost for 127.0.0.1: both are this server
        port = urlsplit(self.url).port
        return [self.url, f"http://localhost:{port}"]

    def _allow_browser_uploads(self) -> None:
        """The uploads bucket's CORS rule, as infra gives it: this origin may POST and PUT, and
        read the ETag of a part (multipart needs it)."""
        self._client("s3").put_bucket_cors(
            Bucket=self.config.uploads_bucket,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": self._page_origins(),
                        "AllowedMethods": ["POST", "PUT"],
                        "AllowedHeaders": ["*"],
                        # Uppy reads both (the part's ETag for multipart, both after a POST)
                        "ExposeHeaders": ["ETag", "Location"],
                        "MaxAgeSeconds": 3000,
                    }
                ]
            },
        )

    def site_config(self) -> dict[str, Any]:
        """/config.json: what the page needs to know about this stack, with the keys
        infra/components/frontdoor.py writes at deploy (docs/web.md)."""
        settings = parse(service_module(self.manifest, "settings").Settings, self.config.settings, service="api")
        accepted = service_module(self.manifest, "uploads").ACCEPTED_TYPES
        return {
            "apiBase": "/api",
            "region": self.region,
            "userPoolId": self.pool_id,
            "userPoolClientId": self.client_id,
            "authEndpoint": f"{self._endpoint}/",
            "uploadsOrigin": _origin(self._endpoint),
            "maxBytes": settings.max_bytes,
            "passwordPolicy": dict(PASSWORD_POLICY),
            "acceptedTypes": list(accepted),
        }

    # --- users ------------------------------------------------------------------------------
    def create_user(self, email: str, password: str) -> str:
        """A confirmed user with a permanent password (as an admin creates one); returns its sub."""
        return create_user(self._client("cognito-idp"), self.pool_id, email, password)

    def sign_in(self, email: str, password: str) -> dict[str, str]:
        """The tokens a browser gets (USER_PASSWORD_AUTH): AccessToken, IdToken, RefreshToken..."""
        return sign_in(self._client("cognito-idp"), self.client_id, email, password)

    # --- requests ---------------------------------------------------------------------------
    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet, like the rest of the stack
                pass

            def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _dispatch(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                refused = door.misdirected(self.headers.get("Host"))
                if refused is not None:
                    self._answer(*refused)
                    return
                status, headers, payload = door.handle(self.command, self.path, dict(self.headers.items()), body)
                self._answer(status, headers, payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

        return Handler

    def allowed_hosts(self) -> set[str]:
        """The ``Host`` values this server answers: its own address, and localhost on its port."""
        return {urlsplit(origin).netloc for origin in self._page_origins()}

    def misdirected(self, host: str | None) -> tuple[int, dict, bytes] | None:
        """The answer to a request for another host (None: it is for this one). DNS rebinding: a
        page of another site whose name resolves to 127.0.0.1 reaches this port with its own name
        in ``Host``; answering it would hand that site the API and the demo user's uploads.
        (CloudFront, too, answers only its own names.)"""
        if host in self.allowed_hosts():
            return None
        message = f"This server answers only {' or '.join(sorted(self.allowed_hosts()))}.\n"
        return 421, {"Content-Type": "text/plain; charset=utf-8"}, message.encode()

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict, bytes]:
        """One request: (status, headers, body)."""
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith(VIEWER_PREFIX) and method in ("GET", "HEAD"):
            key = unquote(path[len(VIEWER_PREFIX) :])
            if not servable(key):
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            return self._variant(key)
        if path.startswith("/api/"):
            return self._api(method, path, parts.query, headers, body)
        prefix = next((p for p in self.edge if path.startswith(p)), None)
        if prefix is not None:
            return self._edge(prefix, method, parts.path, headers)
        if method in ("GET", "HEAD"):
            return self._page(unquote(path))
        return 404, {"Content-Type": _JSON}, b'{"message":"Not Found"}'

    def _page(self, path: str) -> tuple[int, dict, bytes]:
        """The web app's files and /config.json, with the page's security headers."""
        origin = _origin(self._endpoint)
        headers = security_headers(uploads_origin=origin, auth_origin=origin)
        if path == "/config.json":
            body = json.dumps(self.site_config(), indent=2).encode()
            return 200, {**headers, "Content-Type": _JSON, "Cache-Control": _REVALIDATE}, body
        name = "index.html" if path in ("/", "/index.html") else path.lstrip("/")
        root = self.site.resolve()
        target = (root / name).resolve()
        if not self.site_built:
            page = f"<!doctype html><title>imgpipe</title><p>{SITE_MISSING}</p>\n".encode()
            return 503, {**headers, "Content-Type": _SITE_TYPES[".html"], "Cache-Control": "no-store"}, page
        if not target.is_relative_to(root) or not target.is_file():
            return 404, {**headers, "Content-Type": "text/plain; charset=utf-8"}, b"Not Found"
        cache = _REVALIDATE if target.name == "index.html" else _IMMUTABLE
        content_type = _SITE_TYPES.get(target.suffix, "application/octet-stream")
        return 200, {**headers, "Content-Type": content_type, "Cache-Control": cache}, target.read_bytes()

    def _variant(self, key: str) -> tuple[int, dict, bytes]:
        from botocore.exceptions import ClientError

        try:
            s3 = self._client("s3")
            # the bucket policy's rule, per object: tagged with a served visibility and not held
            tags = s3.get_object_tagging(Bucket=self.config.variants_bucket, Key=key)["TagSet"]
            if not is_served({t["Key"]: t["Value"] for t in tags}, self.served_visibilities):
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            r = s3.get_object(Bucket=self.config.variants_bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            raise
        headers = {
            "Content-Type": r.get("ContentType") or "application/octet-stream",
            "Cache-Control": VARIANT_CACHE_CONTROL,
            "ETag": r.get("ETag", ""),
            "X-Content-Type-Options": "nosniff",
        }
        return 200, headers, r["Body"].read()

    def _edge(self, prefix: str, method: str, path: str, headers: Mapping[str, str]) -> tuple[int, dict, bytes]:
        """What the distribution's behaviour for ``prefix`` does in AWS: the request, as a function
        URL's event (path, method, the Accept header), to the edge service's own handler."""
        manifest, config = self.edge[prefix]
        handler = service_module(manifest, "handler").handler
        lowered = {k.lower(): v for k, v in headers.items()}
        event = {
            "version": "2.0",
            "rawPath": path,
            "headers": {k: v for k, v in lowered.items() if k in ("accept", "host")},
            "requestContext": {"http": {"method": method, "path": path}},
            "isBase64Encoded": False,
        }
        try:
            with self._handler_lock, use_config(config):
                result = handler(event, LambdaContext(manifest))
        except Exception:
            log.exception("the %s handler failed", manifest.name)
            return 502, {"Content-Type": "text/plain"}, b"Bad Gateway"
        return _answer_of(result)

    def _api(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict, bytes]:
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method == method:
                break
        else:
            # API Gateway's own answer to a route it does not have
            return 404, {"Content-Type": _JSON}, b'{"message":"Not Found"}'
        lowered = {k.lower(): v for k, v in headers.items()}
        claims: dict[str, Any] | None = None
        if not route.public:
            assert self.verifier is not None
            try:
                claims = self.verifier.verify(lowered.get("authorization"))
            except Unauthorized:
                return 401, {"Content-Type": _JSON, "WWW-Authenticate": "Bearer"}, b'{"message":"Unauthorized"}'
        event = self._event(route, match.groupdict(), method, path, query, lowered, body, claims)
        assert self._handler is not None
        try:
            with self._handler_lock, use_config(self.config):
                result = self._handler(event, LambdaContext(self.manifest))
        except Exception:
            log.exception("the %s handler failed", self.manifest.name)
            # what API Gateway answers when the function fails
            return 500, {"Content-Type": _JSON}, b'{"message":"Internal Server Error"}'
        return _answer_of(result)

    def _event(
        self,
        route: _Route,
        params: dict[str, str],
        method: str,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        claims: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        """An API Gateway HTTP API (payload 2.0) event, as the stage would send it."""
        now = time.time()
        pairs = parse_qsl(query, keep_blank_values=True)
        multi: dict[str, list[str]] = {}
        for k, v in pairs:
            multi.setdefault(k, []).append(v)
        try:
            text, encoded = body.decode(), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        context: dict[str, Any] = {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": urlsplit(self.url).netloc,
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": f"local-{int(now * 1000)}",
            "routeKey": f"{route.method} {route.template}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": _claims_as_gateway_passes_them(claims), "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": context["routeKey"],
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": encoded,
        }
        if multi:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in multi.items()}
        if params:
            event["pathParameters"] = params
        if body:
            event["body"] = text
        return event


def _answer_of(result: Mapping[str, Any]) -> tuple[int, dict, bytes]:
    """A Lambda proxy result as (status, headers, body)."""
    out = result.get("body") or ""
    payload = base64.b64decode(out) if result.get("isBase64Encoded") else out.encode()
    response_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for cookie in result.get("cookies") or []:
        response_headers.setdefault("Set-Cookie", cookie)
    return int(result.get("statusCode", 200)), response_headers, payload


#: the local stack's transform signing key (Secrets Manager in the emulator, generated once)
TRANSFORM_SECRET_NAME = "imgpipe-local-transform-keys"


def start_front_door(
    deployment: StackResources,
    *,
    services_root: Any,
    settings: Mapping[str, Mapping[str, Any]],
    clients: Callable[[str], Any],
    endpoint: str,
    port: int = 0,
    services: str | None = None,
) -> LocalFrontDoor | None:
    """The local stack's front door for its HTTP service (None when the services have none, or
    the selection ``services`` leaves it out), with the configuration
    infra/components/frontdoor.py gives the function."""
    manifests = discover(services_root, http=True, services=services)
    if not manifests:
        return None
    if len(manifests) > 1:
        raise ValueError(f"one HTTP service is supported, found {[m.name for m in manifests]}")
    [manifest] = manifests
    producers = discover(services_root, services=services)
    resources = {
        Resource.CATALOG_TABLE: deployment.catalog_table,
        Resource.DELIVERY_URL: "",
        Resource.OUTPUTS: outputs_spec(producers, settings),
    }
    # the services the distribution routes paths to (on-demand transforms), with a generated key
    edge_services = discover(services_root, edge=True, services=services)
    bounds = transform_bounds(edge_services, settings)
    if bounds is not None:
        resources[Resource.TRANSFORM_BOUNDS] = bounds
        resources[Resource.TRANSFORM_SECRET] = generated_secret(clients("secretsmanager"), TRANSFORM_SECRET_NAME)
    names = StackNames(
        uploads_bucket=deployment.uploads_bucket,
        variants_bucket=deployment.variants_bucket,
        # the delivery URL is the front door's own, known once it listens (LocalFrontDoor.start)
        resources=resources,
    )
    config = function_config(manifest, names, settings.get(manifest.name))
    edge = {
        path.removesuffix("*"): (m, function_config(m, names, settings.get(m.name)))
        for m in edge_services
        if m.edge is not None
        for path in m.edge.paths
    }
    door = LocalFrontDoor(
        manifest=manifest,
        config=config,
        clients=clients,
        endpoint=endpoint,
        port=port,
        edge=edge,
        served_visibilities=served_visibilities(producers, settings),
    )
    return door.start()


def banner(door: LocalFrontDoor, endpoint: str) -> str:
    """What ``imgpipe local up`` prints about the front door: where it is and how to sign in."""
    demo = door.demo or Credentials("<email>", "<password>")
    page = f"{door.url}/" if door.site_built else f"not built ({SITE_MISSING})"
    return (
        f"  web app:         {page}\n"
        f"  front door:      {door.url}  (/api/* the upload API, /v/* the variants, /t/* transforms; docs/api.md)\n"
        f"  sign in:         {demo.email} / {demo.password}  "
        f"(user pool {door.pool_id}, app client {door.client_id})\n\n"
        "Upload through the API (in another shell):\n"
        f"  TOKEN=$(aws --endpoint-url {endpoint} cognito-idp initiate-auth --client-id {door.client_id} "
        "--auth-flow USER_PASSWORD_AUTH "
        f"--auth-parameters 'USERNAME={demo.email},PASSWORD={demo.password}' "
        "--query AuthenticationResult.IdToken --output text)\n"
        f'  curl -s -H "Authorization: Bearer $TOKEN" -d \'{{"filename":"photo.jpg","type":"image/jpeg",'
        f'"size":12345}}\' {door.url}/api/uploads\n'
        f'  curl -s -H "Authorization: Bearer $TOKEN" {door.url}/api/uploads\n'
    )
