"""The HTML report in a real browser: headless Chromium renders a non-blank page whose DOM holds the table.

Skips when ``chromium`` is not installed (CI installs Debian's package, see ``.ci/run``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from patch_models import conv_stack
from PIL import Image

from mcugraph.cli.main import main
from mcugraph.patch.apply import patch_tflite
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.schedule import schedule_tflite

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI installs chromium and sets MCUGRAPH_REQUIRE_BROWSER=1, so there a missing browser fails instead of skipping.
if CHROMIUM is None and os.environ.get("MCUGRAPH_REQUIRE_BROWSER") == "1":
    raise RuntimeError("MCUGRAPH_REQUIRE_BROWSER=1 but chromium is not on PATH: apt-get install -y chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
WIDE = [("conv", 3, 2, True, 8), ("conv", 1, 1, True, 48), ("dw", 3, 1, True), ("conv", 1, 1, True, 8)]


def chromium(tmp_path, *flags: str, page) -> subprocess.CompletedProcess:
    """Headless Chromium on the file ``page``, offline, with a profile of its own (tests run in parallel)."""
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", *flags, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """(the report page of a patched conv stack, its operator count)."""
    folder = tmp_path_factory.mktemp("browser")
    model = folder / "patched.tflite"
    model.write_bytes(patch_tflite(schedule_tflite(conv_stack(WIDE, hw=(48, 40)))[0], "auto", 0.3)[0])
    out = folder / "report.html"
    assert main(["report", str(model), "-o", str(out)]) == 0
    return out, len(tfl.read(model.read_bytes()).subgraphs[0].operators)


def test_screenshot_is_not_blank(page, tmp_path):
    """The rendered page has drawing on it: many distinct colours, pixel variance well above a blank page's."""
    shot = tmp_path / "shot.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,1600", page=page[0])
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (1600, 1400)
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    # The red of the peak marks is drawn (the timeline's peak bar is #d62728).
    red = (abs(pixels[..., 0] - 214) < 8) & (abs(pixels[..., 1] - 39) < 8) & (abs(pixels[..., 2] - 40) < 8)
    assert red.sum() > 100


def test_dom_holds_one_row_per_operator_and_names_the_peak(page, tmp_path):
    """--dump-dom after rendering: one operator row per .tflite operator, the peak row naming the peak operator."""
    dom = chromium(tmp_path, "--dump-dom", page=page[0]).stdout
    rows = re.findall(r'<tr class="op[^"]*">', dom)
    assert len(rows) == page[1]
    peak = re.search(r"peak SRAM, at step ([^<]+)</span>", dom).group(1)
    assert len(re.findall(rf'<tr class="op peak"><td class="n">\d+</td><td class="name" title="{re.escape(peak)}"',
                          dom)) == 1
    assert dom.count("<svg") == 3  # timeline, arena, flash
