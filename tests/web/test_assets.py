"""Front-end assets: exact versions pinned, installed from the npm registry at set-up, copied
into the vendor folder the pages load from — no CDN."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gongzhi.web import assets

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "src" / "gongzhi" / "web" / "templates"


def test_package_json_pins_exact_versions_matching_the_lock():
    pkg = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    deps = pkg["dependencies"]
    assert set(deps) == {"leaflet", "echarts", "htmx.org"}
    for name, version in deps.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly, got {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert lock["packages"][f"node_modules/{name}"]["integrity"].startswith("sha512-")


def _fake_node_modules(root: Path) -> Path:
    nm = root / "node_modules"
    for package, items in assets.FILES.items():
        (nm / package).mkdir(parents=True)
        (nm / package / "package.json").write_text(json.dumps({"version": "9.9.9"}))
        for src, _ in items:
            target = nm / package / src
            if src.endswith("images"):
                target.mkdir(parents=True)
                (target / "marker-icon.png").write_bytes(b"png")
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(f"/* {package} {src} */")
    (nm / "echarts" / "dist" / "echarts.js").write_text("not copied")
    return nm


def test_copy_takes_only_the_files_the_pages_use(tmp_path):
    vendor = tmp_path / "vendor"
    versions = assets.copy(_fake_node_modules(tmp_path), vendor)
    assert versions == {"leaflet": "9.9.9", "echarts": "9.9.9", "htmx.org": "9.9.9"}
    assert assets.missing(vendor) == []
    assert not (vendor / "echarts" / "echarts.js").exists()
    assert json.loads((vendor / "VERSIONS.json").read_text())["leaflet"] == "9.9.9"


def test_copy_says_what_to_run_when_npm_ci_has_not_run(tmp_path):
    with pytest.raises(SystemExit, match="npm ci"):
        assets.copy(tmp_path / "node_modules", tmp_path / "vendor")
    assert set(assets.missing(tmp_path / "vendor")) == set(assets.REQUIRED)


def test_templates_load_the_vendored_files_and_nothing_from_outside():
    text = "".join(p.read_text(encoding="utf-8") for p in TEMPLATES.rglob("*.html"))
    for rel in ("leaflet/leaflet.js", "leaflet/leaflet.css", "echarts/echarts.min.js", "htmx.org/htmx.min.js"):
        assert f"vendor/{rel}" in text and rel in assets.REQUIRED
    assert not re.search(r"""(src|href)=["']https?://""", text)
