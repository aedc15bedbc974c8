"""Screenshots of the docs' key pages in a real browser, for checking a change by eye.

    python docs/screenshots.py --out /tmp/shots        # build, serve, shoot, check
    python docs/screenshots.py --site site/ --out /tmp/shots

Builds the site (``mkdocs build --strict``) unless ``--site`` is given, serves it on
127.0.0.1, and has headless Chromium (Debian: ``apt-get install -y chromium``) save one PNG
per page in ``--out``. It also reads each page's DOM after its scripts ran, and fails when
math was left untypeset or KaTeX could not parse a formula, which no static check can see.
Look at the PNGs: clipped code, raw markup and broken tables show there.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_site import build  # docs/ is not a package: found through sys.path

# page -> (file name, window height): tall enough for the part a reader meets first.
PAGES = {
    "": ("home.png", 2600),
    "concepts/": ("concepts.png", 5200),
    "envs/": ("envs.png", 2600),
    "experiments/": ("experiments.png", 2800),
    "api/regret/": ("api-regret.png", 5200),
}
WIDTH = 1280


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("screenshots: no Chromium found (Debian: apt-get install -y chromium)")


def _run(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--hide-scrollbars",
        "--virtual-time-budget=5000",  # let the page's scripts (KaTeX) run before the shot
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def problems_in_dom(dom: str) -> list[str]:
    """What the page shows wrong once its scripts ran: math not typeset, KaTeX errors."""
    found = []
    if "katex-error" in dom:
        found.append("KaTeX could not typeset a formula (class katex-error)")
    # arithmatex leaves \( \) or \[ \] only where the typesetting script did not run.
    for m in re.finditer(r'class="arithmatex">\s*\\[(\[]', dom):
        found.append(f"math left untypeset: {dom[m.start() : m.start() + 80]!r}")
        break
    return found


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per file: noise
        pass


def shoot(site: Path, out: Path) -> list[str]:
    browser = chromium()
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems: list[str] = []
    try:
        for page, (name, height) in PAGES.items():
            url = base + page
            shot = _run(
                browser, f"--window-size={WIDTH},{height}", f"--screenshot={out / name}", url
            )
            if not (out / name).exists():
                problems.append(f"{page or 'home'}: no screenshot ({shot.stderr.strip()[-300:]})")
                continue
            dom = _run(browser, "--dump-dom", url).stdout
            problems += [f"{page or 'home'}: {p}" for p in problems_in_dom(dom)]
            print(out / name)
    finally:
        server.shutdown()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    parser.add_argument("--site", type=Path, help="a built site (default: build one now)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site
        if site is None:
            site = Path(tmp) / "site"
            build(site)
        problems = shoot(site, args.out)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
