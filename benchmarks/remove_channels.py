"""What channel removal buys on TFLite Micro: magnitude pruning (``remove-channels{keep=F}``) of the MLPerf Tiny
models and the zoo, exported to int8 and measured by TFLM (arena head bytes), with flash bytes and MACs.

    python benchmarks/remove_channels.py [--models ic_resnet8,kws_dscnn] [--keep 1,0.5,0.25]

No retraining happens here (that is ``mcugraph prune``), so accuracy is not the point: the table shows the resource
side of the trade-off, and that the pruned IR exports and verifies (int8 vs. onnxruntime on the pruned float
model, SQNR in dB) on every model.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import mcugraph
from mcugraph.passes.remove_channels import RemoveChannelsPass
from mcugraph.prune.channel_groups import channel_groups

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "mlperf-tiny"
MLPERF = ("kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder")


def source(name: str):
    if name in MLPERF:
        return mcugraph.load(SHARED / f"{name}.onnx")
    from mcugraph import zoo

    return mcugraph.load(zoo.onnx_model(name))


def measure(name: str, keep: float) -> dict:
    prunable = []

    def prune(model):
        prunable.extend(g for g in channel_groups(model) if g.prunable)
        return RemoveChannelsPass(keep=keep)(model).model

    start = time.perf_counter()
    result = mcugraph.optimize(source(name), calib="random:0,1,16", transforms=[prune], progress=False,
                               warn=lambda _: None)
    report = result.report
    return {
        "model": name, "keep": keep, "groups": len(prunable), "channels": sum(g.size for g in prunable),
        "arena": report["arena_head_bytes"], "flash": report["flash_bytes"], "macs": report["macs"],
        "sqnr": report.get("verification", {}).get("sqnr_db"),
        "seconds": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="kws_dscnn,vww_mobilenetv1,ic_resnet8,ad_autoencoder,digits_cnn")
    parser.add_argument("--keep", default="1,0.75,0.5,0.25")
    args = parser.parse_args()
    print(f"{'model':<16} {'keep':>5} {'groups':>6} {'arena B':>9} {'flash B':>9} {'MACs':>11} {'SQNR dB':>8} {'s':>5}")
    for name in args.models.split(","):
        if name in MLPERF and not SHARED.is_dir():
            print(f"{name:<16} skipped: {SHARED} not present")
            continue
        for keep in (float(k) for k in args.keep.split(",")):
            row = measure(name, keep)
            sqnr = f"{row['sqnr']:8.1f}" if row["sqnr"] is not None else f"{'-':>8}"
            print(f"{name:<16} {keep:5.2f} {row['groups']:6d} {row['arena']:9,d} {row['flash']:9,d} "
                  f"{row['macs']:11,d} {sqnr} {row['seconds']:5.1f}")


if __name__ == "__main__":
    main()
