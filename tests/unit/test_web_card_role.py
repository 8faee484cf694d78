"""The web app picks a card's image by the variant's declared role, never by a service's name
(web/src/status.js, run under node as the browser runs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

WEB_SRC = Path(__file__).resolve().parents[2] / "web" / "src"


def test_no_service_name_in_the_web_app() -> None:
    for path in WEB_SRC.rglob("*"):
        if path.is_file():
            assert not re.search(r"thumbnail", path.read_text(encoding="utf-8"), re.I), path


def test_a_card_shows_the_preview_role_whatever_service_made_it() -> None:
    node = shutil.which("node")
    assert node, "node is needed (it builds the web app too)"
    view = {
        "variants": [
            {"processor": "resize", "role": "responsive", "width": 320, "url": "r320"},
            {"processor": "crops", "role": "preview", "width": 300, "url": "c300"},
            {"processor": "crops", "role": "preview", "width": 150, "url": "c150"},
        ]
    }
    script = (
        f"import({json.dumps((WEB_SRC / 'status.js').as_uri())}).then((m) => "
        f"console.log(JSON.stringify(m.cardImageOf({json.dumps(view)}))));"
    )
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["url"] == "c300"
