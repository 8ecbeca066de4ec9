"""Front-end libraries (Leaflet, ECharts, htmx): copy the files the pages use from
``node_modules`` (installed by ``npm ci`` from the committed ``package-lock.json``)
into ``src/gongzhi/web/static/vendor/``, which Django's app static finder serves
and ``collectstatic`` collects. The vendor folder is git-ignored: it is made at
set-up (``make web-assets``), never downloaded at run time, so the pages work on an
intranet without internet.

Usage::

    python -m gongzhi.web.assets [--node-modules DIR]    # copy (after npm ci)
    python -m gongzhi.web.assets --check                  # exit 1 if a file is missing

Standard library only (it runs before anything else is set up).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
VENDOR_DIR = WEB_DIR / "static" / "vendor"
REPO_ROOT = WEB_DIR.parents[2]

#: package → [(file or folder inside the package, destination inside vendor/<package>)]
FILES: dict[str, list[tuple[str, str]]] = {
    "leaflet": [
        ("dist/leaflet.js", "leaflet.js"),
        ("dist/leaflet.css", "leaflet.css"),
        ("dist/images", "images"),
        ("LICENSE", "LICENSE"),
    ],
    "echarts": [("dist/echarts.min.js", "echarts.min.js"), ("LICENSE", "LICENSE")],
    "htmx.org": [("dist/htmx.min.js", "htmx.min.js"), ("LICENSE", "LICENSE")],
}

#: What the templates load (checked by the tests and by ``--check``).
REQUIRED = (
    "leaflet/leaflet.js",
    "leaflet/leaflet.css",
    "leaflet/images/marker-icon.png",
    "echarts/echarts.min.js",
    "htmx.org/htmx.min.js",
)


def missing(vendor: Path = VENDOR_DIR) -> list[str]:
    return [rel for rel in REQUIRED if not (vendor / rel).is_file()]


def copy(node_modules: Path, vendor: Path = VENDOR_DIR) -> dict[str, str]:
    """Copy the needed files; return {package: version}. Raises SystemExit with a clear
    message when a package is not installed."""
    versions = {}
    for package, items in FILES.items():
        root = node_modules / package
        manifest = root / "package.json"
        if not manifest.is_file():
            raise SystemExit(
                f"gongzhi web assets: {root} is missing; run `npm ci --no-audit --no-fund` at the repository root first"
            )
        versions[package] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        dest_root = vendor / package
        if dest_root.exists():
            shutil.rmtree(dest_root)
        dest_root.mkdir(parents=True)
        for src_rel, dest_rel in items:
            src, dest = root / src_rel, dest_root / dest_rel
            if src.is_dir():
                shutil.copytree(src, dest)
            elif src.is_file():
                shutil.copy2(src, dest)
            elif src_rel != "LICENSE":
                raise SystemExit(f"gongzhi web assets: {src} not found in {package} {versions[package]}")
    (vendor / "VERSIONS.json").write_text(json.dumps(versions, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return versions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m gongzhi.web.assets", description=__doc__.split("\n\n")[0])
    p.add_argument("--node-modules", type=Path, default=REPO_ROOT / "node_modules")
    p.add_argument("--check", action="store_true", help="only check that the vendored files are there")
    args = p.parse_args(argv)
    if not args.check:
        versions = copy(args.node_modules)
        print("gongzhi web assets: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())) + f" → {VENDOR_DIR}")
    gone = missing()
    if gone:
        print("gongzhi web assets missing: " + ", ".join(gone) + " (run `make web-assets`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
