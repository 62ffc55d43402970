"""The HTML report's two acceptance pages: MLPerf Tiny VWW and a patched MobileNetV2, their sizes, and screenshots.

Run: ``python benchmarks/report_pages.py [--out DIR] [--screenshots docs/img]``. Writes, under ``--out`` (default
``out/report_pages``):

- ``vww.html``: ``mcugraph report vww_mobilenetv1.int8.tflite`` on the TF converter's int8 file as published
  (``../shared/models/mlperf-tiny``; the row is skipped without it);
- ``mobilenetv2_patched.html``: the zoo's MobileNetV2-style network, expansion 6, at 96x96 (the model of
  ``benchmarks/patch.py``'s ``mobilenetv2-e6@96`` row: exported by ``mcugraph opt`` with random calibration),
  then ``mcugraph schedule --patch auto``, then ``mcugraph report``.

It prints one row per page: its bytes (the acceptance limit is 1 MB), the operators and arena tensors drawn, and
the seconds ``mcugraph report`` took. With ``--screenshots DIR`` it also renders each page in headless Chromium
(``chromium`` on PATH) at 1400 px wide and keeps the top (summary, timeline, arena layout, flash) as a 256-colour
PNG, ``report_vww.png`` and ``report_mobilenetv2_patched.png``: the images docs/report.md shows.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"


def _mobilenet_v2(path: Path) -> None:
    import torch

    from mcugraph import zoo
    from mcugraph.optimize import optimize

    torch.manual_seed(0)
    module = zoo.MobileNetV2Style(expand=6).eval()
    source = zoo.export(module, torch.rand(1, 3, 96, 96), keep_batchnorm=False)
    path.write_bytes(optimize(source, calib="random:0,1,16", warn=lambda message: None).tflite)


def _cli(*argv: str) -> None:
    from mcugraph.cli.main import main

    with contextlib.redirect_stdout(io.StringIO()):  # the commands' own tables: this script prints one of its own
        code = main(list(argv))
    if code != 0:
        raise SystemExit(f"mcugraph {' '.join(argv)} failed")


def _report(model: Path, page: Path) -> dict:
    start = time.perf_counter()
    _cli("report", str(model), "-o", str(page))
    seconds = time.perf_counter() - start
    text = page.read_text()
    return {"page": page.name, "bytes": page.stat().st_size, "operators": text.count('<tr class="op'),
            "tensors": text.count('<g class="tensor'), "seconds": seconds}


def screenshot(page: Path, png: Path, height: int = 1560) -> None:
    """The top ``height`` pixels of ``page`` at 1400 px wide, rendered by headless Chromium, as a 256-colour PNG."""
    from PIL import Image

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--screenshots needs chromium on PATH (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        raw = Path(profile) / "shot.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                        f"--user-data-dir={profile}", f"--screenshot={raw}", f"--window-size=1400,{height}",
                        page.resolve().as_uri()], capture_output=True, check=True, timeout=120)
        Image.open(raw).convert("RGB").quantize(256).save(png, optimize=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out/report_pages"))
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="also write the pages' screenshots here")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    if SHARED.exists():
        rows.append(("vww", _report(SHARED / "vww_mobilenetv1.int8.tflite", args.out / "vww.html")))
    else:
        print(f"({SHARED} absent: the VWW page is skipped)", file=sys.stderr)
    layer_by_layer, patched = args.out / "mobilenetv2.tflite", args.out / "mobilenetv2_patched.tflite"
    _mobilenet_v2(layer_by_layer)
    _cli("schedule", str(layer_by_layer), "-o", str(patched), "--patch", "auto")
    rows.append(("mobilenetv2_patched", _report(patched, args.out / "mobilenetv2_patched.html")))

    print(f"{'page':<26} {'bytes':>9} {'< 1 MB':>7} {'operators':>9} {'tensors':>8} {'report s':>9}")
    for _, row in rows:
        print(f"{row['page']:<26} {row['bytes']:>9,} {'yes' if row['bytes'] < 1_000_000 else 'NO':>7} "
              f"{row['operators']:>9} {row['tensors']:>8} {row['seconds']:>9.2f}")
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
        for name, row in rows:
            png = args.screenshots / f"report_{name}.png"
            screenshot(args.out / row["page"], png)
            print(f"{png}: {png.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
