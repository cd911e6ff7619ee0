"""Screenshots of the HTML pages batchver writes, in headless Chromium
(Debian's ``chromium`` package), for the images committed under results/."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(html: str | Path, png: str | Path, chromium: str | None = None,
               size: tuple[int, int] = (1280, 1600)) -> bool:
    """Render ``html`` into ``png``; False (and a message) without a browser."""
    browser = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found (apt-get install chromium): no screenshot", file=sys.stderr)
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", f"--user-data-dir={profile}", f"--screenshot={png}",
                        f"--window-size={size[0]},{size[1]}", Path(html).resolve().as_uri()],
                       check=True, capture_output=True, timeout=300)
    print(f"wrote {png}", file=sys.stderr)
    return True
