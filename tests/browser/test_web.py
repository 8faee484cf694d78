"""The web app in a real browser (headless Chromium) on the local stack: what a person does.

- sign up, confirm, sign in through the page (moto's Cognito accepts any confirmation code:
  on AWS the code is the one Cognito emails);
- three files dropped at once (a JPEG photo, a PNG with transparency, a text file renamed .jpg):
  two become ready with their thumbnails rendered, one is rejected with its reason in plain
  words; a screenshot of that gallery is saved to out/browser/gallery.png;
- a second user sees none of the first user's uploads, not even by its address;
- an upload's page shows its variants; delete with confirmation, and it is gone;
- at 375 px wide no horizontal scroll; axe-core finds no serious or critical violation; the
  layout does not shift as cards appear; the console stays clean (checked after every test).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from os import urandom as random_bytes
from pathlib import Path

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from imgpipe.needs import Resource
from imgpipe.registry import StackNames, discover, function_config
from imgpipe_tools.local.frontdoor import SITE_MISSING, LocalFrontDoor
from tests.browser.conftest import PASSWORD, PHONE, LocalUp, Web, screenshot
from tests.imagegen import photo

READY_TIMEOUT_MS = 90_000
UNREADABLE = "This file is not an image in a format we can read."


def three_files(folder: Path) -> dict[str, Path]:
    jpeg = folder / "harbour.jpg"
    photo((900, 600), seed=7).save(jpeg, "JPEG", quality=88)
    png = folder / "logo-transparent.png"
    img = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    for x in range(400):
        for y in range(60, 240):
            img.putpixel((x, y), (30, 90, 200, int(255 * x / 399)))  # a fade to transparent
    img.save(png, "PNG")
    text = folder / "notes.jpg"
    text.write_bytes(b"Shopping list: milk, eggs, bread. This is not a photo.\n" * 40)
    return {"jpeg": jpeg, "png": png, "text": text}


def card(web: Web, filename: str):
    return web.page.locator(".card", has=web.page.locator(".name", has_text=filename))


def thumbnail_rendered(web: Web, filename: str) -> bool:
    img = card(web, filename).locator("img")
    expect(img).to_have_count(1)
    return bool(img.evaluate("img => img.complete && img.naturalWidth > 0"))


def start_layout_shift_record(web: Web) -> None:
    web.page.evaluate(
        """() => {
          window.__shift = 0;
          new PerformanceObserver((list) => {
            for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
          }).observe({ type: "layout-shift", buffered: false });
        }"""
    )


def test_sign_up_confirm_and_sign_in(web: Web) -> None:
    page = web.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value("newcomer@example.com")
    page.get_by_label("Confirmation code").fill("123456")
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    web.sign_in("newcomer@example.com")
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("newcomer@example.com")
    expect(page.get_by_text("No uploads yet")).to_be_visible()
    assert web.axe() == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert web.axe() == []


def test_three_files_two_ready_one_rejected_isolated_and_deleted(
    door: LocalUp, open_web: Callable[..., Web], tmp_path: Path
) -> None:
    door.create_user("ann@example.com", PASSWORD)
    door.create_user("bob@example.com", PASSWORD)
    ann = open_web()
    ann.sign_in("ann@example.com")
    page = ann.page
    files = three_files(tmp_path)
    start_layout_shift_record(ann)

    # Uppy's dashboard: its file input takes several files at once, then one click uploads them
    page.locator("input.uppy-Dashboard-input").first.set_input_files([str(p) for p in files.values()])
    page.get_by_role("button", name=re.compile(r"Upload 3 files")).click()

    for name in ("harbour.jpg", "logo-transparent.png"):
        expect(card(ann, name)).to_have_attribute("data-status", "completed", timeout=READY_TIMEOUT_MS)
        expect(card(ann, name).locator(".badge")).to_have_text("Ready")
    rejected = card(ann, "notes.jpg")
    expect(rejected).to_have_attribute("data-status", "rejected", timeout=READY_TIMEOUT_MS)
    expect(rejected.locator(".badge")).to_have_text("Rejected")
    expect(rejected.locator(".reason")).to_have_text(UNREADABLE)
    for name in ("harbour.jpg", "logo-transparent.png"):
        page.wait_for_function(
            "n => [...document.querySelectorAll('.card')].some(c => c.querySelector('.name').textContent === n"
            " && c.querySelector('img')?.complete && c.querySelector('img').naturalWidth > 0)",
            arg=name,
        )
        assert thumbnail_rendered(ann, name)
    expect(rejected.locator("img")).to_have_count(0)
    shot = screenshot(page, "gallery.png")
    assert shot.stat().st_size > 10_000
    # cards reserve their size: statuses and thumbnails arriving move nothing (CLS "good" < 0.1)
    assert page.evaluate("window.__shift") < 0.1
    assert ann.axe() == []

    # newest first, after a reload too (the list route, not the page's memory)
    page.reload()
    expect(page.locator(".card")).to_have_count(3)
    for name in ("harbour.jpg", "logo-transparent.png"):
        page.wait_for_function(
            "n => [...document.querySelectorAll('.card')].some(c => c.querySelector('.name').textContent === n"
            " && c.querySelector('img')?.complete && c.querySelector('img').naturalWidth > 0)",
            arg=name,
        )

    # phone width: no horizontal scroll on the gallery
    page.set_viewport_size(PHONE)
    assert ann.horizontal_overflow() == 0
    screenshot(page, "gallery-375px.png")
    page.set_viewport_size({"width": 1280, "height": 900})

    # one upload's page: every variant with size and dimensions, snippets, copy buttons
    card(ann, "harbour.jpg").get_by_role("link").click()
    expect(page.get_by_role("heading", name="harbour.jpg")).to_be_visible()
    upload_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_role("img", name="Preview of harbour.jpg")).to_be_visible()
    rows = page.locator("table.variants tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() >= 5
    assert re.search(r"\d+ × \d+", rows.first.inner_text())
    expect(page.get_by_role("button", name=re.compile("Copy URL of")).first).to_be_visible()
    expect(page.get_by_label("srcset")).to_have_value(re.compile(r"/v/resize/.+ \d+w"))
    expect(page.get_by_label("<picture> snippet")).to_have_value(re.compile(r"^<picture>"))
    expect(page.get_by_role("button", name="Copy srcset")).to_be_visible()
    screenshot(page, "upload.png")
    assert ann.axe() == []
    page.set_viewport_size(PHONE)
    assert ann.horizontal_overflow() == 0
    page.set_viewport_size({"width": 1280, "height": 900})

    # a second user sees none of it: an empty gallery, and the first user's address is not found
    bob = open_web()
    bob.sign_in("bob@example.com")
    expect(bob.page.get_by_text("No uploads yet")).to_be_visible()
    expect(bob.page.locator(".card")).to_have_count(0)
    bob.expected.append(re.compile(re.escape(f"/api/uploads/{upload_id}")))  # the 404 is the point
    bob.page.goto(f"/#/uploads/{upload_id}")
    expect(bob.page.get_by_role("heading", name="Not found")).to_be_visible()

    # delete, with confirmation: cancel keeps it, delete removes it
    page.get_by_role("button", name="Delete…").click()
    dialog = page.get_by_role("dialog", name="Delete this photo?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="harbour.jpg")).to_be_visible()
    page.get_by_role("button", name="Delete…").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("heading", name="Upload photos")).to_be_visible()
    expect(page.locator(".card")).to_have_count(2)
    expect(card(ann, "harbour.jpg")).to_have_count(0)
    token = door.sign_in("ann@example.com", PASSWORD)["IdToken"]
    gone = requests.get(f"{door.url}/api/uploads/{upload_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 404


def test_pages_fit_a_phone(open_web: Callable[..., Web], door: LocalUp) -> None:
    door.create_user("phone@example.com", PASSWORD)
    web = open_web(viewport=PHONE)
    for screen in ("#/signin", "#/signup", "#/confirm"):
        web.page.goto(f"/{screen}")
        expect(web.page.locator("h1")).to_be_visible()
        assert web.horizontal_overflow() == 0, screen
    web.sign_in("phone@example.com")
    expect(web.page.locator(".uppy-Dashboard")).to_be_visible()
    assert web.horizontal_overflow() == 0
    assert web.axe() == []


def test_served_with_the_csp_and_config(door: LocalUp) -> None:
    index = requests.get(f"{door.url}/", timeout=10)
    assert index.status_code == 200
    csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert index.headers["X-Frame-Options"] == "DENY" and index.headers["X-Content-Type-Options"] == "nosniff"
    html = index.text
    # nothing inline for the CSP to refuse: every script has a src, no style element or attribute
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html
    config = requests.get(f"{door.url}/config.json", timeout=10).json()
    assert config["userPoolId"] == door.pool_id and config["userPoolClientId"] == door.client_id
    assert config["maxBytes"] > 0 and "image/jpeg" in config["acceptedTypes"]
    assert config["authEndpoint"].rstrip("/") in csp.split("connect-src", 1)[1].split(";")[0]
    assert requests.get(f"{door.url}/../pyproject.toml", timeout=10).status_code == 404


def test_unbuilt_site_says_how_to_build_it(tmp_path: Path) -> None:
    """The front door of a checkout without web/dist (the shared stack's page is built, so this one
    is not started: its page answer needs no AWS)."""
    [manifest] = discover(http=True, services="api")
    resources = {Resource.CATALOG_TABLE: "catalog", Resource.DELIVERY_URL: "", Resource.OUTPUTS: "{}"}
    names = StackNames("up", "var", resources=resources)
    door = LocalFrontDoor(
        manifest=manifest,
        config=function_config(manifest, names, None),
        clients=lambda service: pytest.fail(f"no AWS call expected, not {service}"),
        endpoint="http://127.0.0.1:1",
        site=tmp_path,
    )
    status, headers, body = door.handle("GET", "/", {}, b"")
    assert status == 503 and headers["Cache-Control"] == "no-store"
    assert b"make web" in body and SITE_MISSING.encode() in body


def test_large_file_goes_by_multipart(door: LocalUp, web: Web, tmp_path: Path) -> None:
    """Over 10 MiB, Uppy sends S3 multipart through the API's routes: parts signed one by one,
    PUT to S3 (their ETag read through CORS), then completed."""
    big = tmp_path / "big-noise.png"
    side = 1900  # 1900 x 1900 x 3 bytes, stored: about 10.3 MiB, three parts of 5 MiB (the last short)
    Image.frombytes("RGB", (side, side), random_bytes(side * side * 3)).save(big, "PNG", compress_level=0)
    assert big.stat().st_size > 10 * 1024 * 1024
    door.create_user("big@example.com", PASSWORD)
    web.sign_in("big@example.com")
    calls: list[str] = []
    web.page.on("request", lambda r: calls.append(f"{r.method} {r.url}"))
    web.page.locator("input.uppy-Dashboard-input").first.set_input_files(str(big))
    web.page.get_by_role("button", name=re.compile(r"Upload 1 file")).click()
    expect(card(web, "big-noise.png")).to_have_attribute("data-status", "completed", timeout=READY_TIMEOUT_MS)
    api = [c.replace(door.url, "", 1) for c in calls if f"{door.url}/api/" in c]
    assert "POST /api/uploads/multipart" in api
    parts = math.ceil(big.stat().st_size / (5 * 1024 * 1024))
    assert parts == 3
    assert sum(1 for c in api if re.fullmatch(r"POST /api/uploads/[^/]+/parts", c)) == parts
    assert any(re.fullmatch(r"POST /api/uploads/[^/]+/complete", c) for c in api)
    assert sum(1 for c in calls if c.startswith("PUT ") and "partNumber=" in c) == parts


def test_keyboard_only(door: LocalUp, web: Web, tmp_path: Path) -> None:
    """As the demo user `make run` prints: sign in, upload a photo, see it ready, reach its page and
    its delete dialog, and back out, with the keyboard alone."""
    assert door.demo is not None
    page = web.page
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_focused()
    page.keyboard.press("Tab")  # the skip link comes first in the page, then the form
    while not page.get_by_label("Email").evaluate("el => el === document.activeElement"):
        page.keyboard.press("Tab")
    page.keyboard.type(door.demo.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(door.demo.password)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Upload photos")).to_be_focused()

    jpeg = tmp_path / "keys.jpg"
    photo((640, 480), seed=3).save(jpeg, "JPEG", quality=85)
    page.locator("input.uppy-Dashboard-input").first.set_input_files(str(jpeg))
    upload = page.get_by_role("button", name=re.compile(r"Upload 1 file"))
    upload.focus()
    page.keyboard.press("Enter")
    link = card(web, "keys.jpg").get_by_role("link")
    expect(card(web, "keys.jpg")).to_have_attribute("data-status", "completed", timeout=READY_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('.card img')?.complete")
    assert thumbnail_rendered(web, "keys.jpg")
    for _ in range(40):  # Tab forward until the card's link has the focus
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="keys.jpg")).to_be_focused()
    page.get_by_role("button", name="Delete…").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this photo?")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()  # the safe choice first
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="keys.jpg")).to_be_visible()


def test_the_page_waits_out_a_429_and_sign_out_revokes_the_session(door: LocalUp, web: Web, tmp_path: Path) -> None:
    """The front door answers the first status polls 429 with Retry-After (as the API does for a
    caller over their rate, and API Gateway when throttled): the page waits as long as it says,
    asks again, and the card still becomes ready. Then signing out revokes the refresh token."""
    import time

    door.create_user("patient@example.com", PASSWORD)
    web.sign_in("patient@example.com")
    refresh = web.page.evaluate("() => JSON.parse(sessionStorage.getItem('imgpipe.session')).refreshToken")
    answered: list[tuple[float, int]] = []

    def busy_twice(route) -> None:  # the first two status polls: 429, Retry-After 2
        if route.request.method == "GET" and sum(1 for _, s in answered if s == 429) < 2:
            answered.append((time.monotonic(), 429))
            route.fulfill(
                status=429,
                headers={"Retry-After": "2", "Content-Type": "application/json"},
                body='{"error": {"code": "rate_limited", "message": "Too many requests."}}',
            )
        else:
            answered.append((time.monotonic(), 200))
            route.continue_()

    web.expected.append(re.compile(r"/api/uploads/"))  # the console reports each 429
    web.page.route(re.compile(r"/api/uploads/[A-Za-z0-9_-]{22}$"), busy_twice)
    jpeg = tmp_path / "patient.jpg"
    photo((640, 480), seed=5).save(jpeg, "JPEG", quality=85)
    web.page.locator("input.uppy-Dashboard-input").first.set_input_files(str(jpeg))
    web.page.get_by_role("button", name=re.compile(r"Upload 1 file")).click()
    expect(card(web, "patient.jpg")).to_have_attribute("data-status", "completed", timeout=READY_TIMEOUT_MS)
    refusals = [t for t, s in answered if s == 429]
    assert len(refusals) == 2
    after = [t for t, s in answered if s == 200 and t > refusals[1]]
    # Retry-After honoured: two seconds (and a little jitter), not the page's own polling interval (5 s)
    gaps = [refusals[1] - refusals[0], after[0] - refusals[1]] if after else []
    assert gaps and all(2.0 <= g < 4.0 for g in gaps), gaps

    web.page.get_by_role("button", name=re.compile("Sign out")).click()
    expect(web.page.get_by_role("heading", name="Sign in")).to_be_visible()
    cognito = door._cognito()
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the revocation is sent as the page signs out
            cognito.initiate_auth(
                ClientId=door.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
            )
            time.sleep(0.2)


def test_the_custom_size_builder_signs_a_url_and_previews_it(door: LocalUp, web: Web, tmp_path: Path) -> None:
    """An upload's page builds a signed transform: width, height, fit and format -> a URL to copy,
    whose preview loads at exactly that size; a size the deployment refuses is explained."""
    door.create_user("custom@example.com", PASSWORD)
    web.sign_in("custom@example.com")
    page = web.page
    jpeg = tmp_path / "lighthouse.jpg"
    photo((1200, 900), seed=11).save(jpeg, "JPEG", quality=88)
    page.locator("input.uppy-Dashboard-input").first.set_input_files(str(jpeg))
    page.get_by_role("button", name=re.compile(r"Upload 1 file")).click()
    expect(card(web, "lighthouse.jpg")).to_have_attribute("data-status", "completed", timeout=READY_TIMEOUT_MS)
    card(web, "lighthouse.jpg").get_by_role("link").click()
    expect(page.get_by_role("heading", name="Custom size")).to_be_visible()

    # a size beyond the deployment's bounds: the API's 400, in words, and no URL
    web.expected.append(re.compile(r"/api/uploads/[^/]+/transforms$"))  # Chromium logs the 400: the point
    page.get_by_label("Width (pixels)").fill("99999")
    page.get_by_role("button", name="Get a signed URL").click()
    expect(page.locator(".custom [role=alert]")).to_contain_text("width must be 1 to 4096 pixels")
    expect(page.get_by_label("Signed URL")).to_have_count(0)

    page.get_by_label("Width (pixels)").fill("320")
    page.get_by_label("Height (pixels)").fill("200")
    page.get_by_label("Fit").select_option("cover")
    page.get_by_label("Format").select_option("webp")
    page.get_by_role("button", name="Get a signed URL").click()
    url_field = page.get_by_label("Signed URL")
    expect(url_field).to_have_value(re.compile(rf"^{re.escape(door.url)}/t/[A-Za-z0-9_-]{{32}}/w320_h200_cover\.webp/"))
    expect(page.locator(".custom [role=alert]")).to_have_text("")
    preview = page.get_by_role("img", name="Custom size of lighthouse.jpg")
    page.wait_for_function(
        "() => { const i = document.querySelector('.custom-preview'); return i && i.complete && i.naturalWidth > 0; }"
    )
    assert preview.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 200]
    expect(page.locator(".custom-figure figcaption")).to_have_text("Preview: 320 × 200 pixels")
    expect(page.get_by_role("button", name="Copy signed URL")).to_be_visible()
    # the URL stands alone: anyone fetches it, without the page or a token
    fetched = requests.get(url_field.input_value(), timeout=30)
    assert fetched.status_code == 200 and fetched.headers["Content-Type"] == "image/webp"
    screenshot(page, "custom-size.png")
    assert web.axe() == []
    page.set_viewport_size(PHONE)
    assert web.horizontal_overflow() == 0
