"""Screenshots of replearn HTML reports with headless Chromium, saved into ``<folder>/docs/``.

    python scripts/screenshots.py runs/mlp                 # runs/mlp/docs/report.png
    python scripts/screenshots.py runs/tour/index.html     # runs/tour/docs/index.png
    python scripts/screenshots.py runs/claims/claims.html --width 1400 --height 3000

A folder means its ``report.html``. Chromium runs offline and sandboxed from the network
(``--disable-background-networking``, no extensions, no first-run, a throw-away profile);
it needs a ``chromium`` (``apt-get install chromium``), ``chromium-browser`` or
``google-chrome`` on PATH. Exit code 2 with one line when a page or the browser is missing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-extensions",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--hide-scrollbars",
    "--mute-audio",
)


def browser() -> str | None:
    """The first Chromium-like browser on PATH."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, out: Path, *, width: int, height: int, exe: str) -> Path:
    """Render ``page`` (an HTML file) to the PNG ``out``; return ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="replearn-chromium-") as profile:
        command = [
            exe,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--screenshot={out.resolve()}",
            page.resolve().as_uri(),
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"chromium failed on {page}: {tail[0]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="+", type=Path, help="run folders or HTML files")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args(argv)
    exe = browser()
    if exe is None:
        print("screenshots: no chromium on PATH (apt-get install chromium)", file=sys.stderr)
        return 2
    for item in args.pages:
        page = item / "report.html" if item.is_dir() else item
        if not page.is_file():
            print(f"screenshots: {page} not found", file=sys.stderr)
            return 2
        out = page.parent / "docs" / f"{page.stem}.png"
        try:
            screenshot(page, out, width=args.width, height=args.height, exe=exe)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"screenshots: {err}", file=sys.stderr)
            return 2
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
