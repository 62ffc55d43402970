"""What ``mcugraph.CANONICALIZE`` does to the zoo and MLPerf Tiny models: nodes, initializers, time, max error.

Run: ``python benchmarks/canonicalize.py [--no-zoo]``. One row per model: node and initializer counts before and
after, the ops the pipeline removed (op: count), the pipeline's wall time (seconds, best of 3 on a fresh load) and
the largest absolute difference of onnxruntime outputs before/after on random inputs.
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf-tiny"
MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")


def _models(zoo: bool):
    from mcugraph import zoo as zoo_models

    if zoo:
        for name in zoo_models.MODELS:
            yield name, zoo_models.onnx_model(name)
    for name in MLPERF:
        path = SHARED / f"{name}.onnx"
        if path.exists():
            yield name, path


def _row(name: str, source) -> dict:
    import mcugraph
    from mcugraph.runtime import input_feeds, run_onnx

    model = mcugraph.load(source)
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        result = mcugraph.run_pipeline(mcugraph.load(source), mcugraph.CANONICALIZE)
        seconds.append(time.perf_counter() - start)
    feeds = input_feeds(model)
    error = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(run_onnx(model, feeds), run_onnx(result.model, feeds), strict=True)
    )
    before = collections.Counter(n.op_type for n in model.graph)
    after = collections.Counter(n.op_type for n in result.model.graph)
    removed = before - after
    return {
        "model": name,
        "nodes": f"{sum(before.values())} -> {sum(after.values())}",
        "inits": f"{len(model.graph.initializers)} -> {len(result.model.graph.initializers)}",
        "removed": ", ".join(f"{op}:{n}" for op, n in sorted(removed.items())) or "-",
        "seconds": f"{min(seconds):.3f}",
        "max_abs_err": f"{error:.1e}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-zoo", action="store_true", help="only the MLPerf Tiny models")
    args = parser.parse_args()
    rows = [_row(name, source) for name, source in _models(not args.no_zoo)]
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns))


if __name__ == "__main__":
    main()
