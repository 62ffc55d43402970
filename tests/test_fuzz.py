"""Seeded fuzzing of the CLI's front doors (a few hundred mutants; ``benchmarks/fuzz.py`` runs thousands).

Every case must keep the contract: exit 0, or exit 2 with one ``error:`` line on stderr (after mcugraph's own
warnings), no traceback, and no output file. ``main`` runs in-process: TFLite Micro, the only code here that can
crash natively, runs in its child process (mcugraph.tflite.tflm).
"""

from __future__ import annotations

import functools

import pytest
from conftest import zoo_onnx
from fuzzing import cases, command_argv, run_case

from mcugraph.cli.main import main

SEED = 20261130
CASE_TIMEOUT_S = 60


@functools.cache
def digits_tflite() -> bytes:
    import mcugraph

    return mcugraph.optimize(zoo_onnx("digits_cnn"), calib="random:0,1,8", warn=lambda m: None).tflite


@pytest.mark.parametrize("command, count", [
    ("analyze-onnx", 90), ("opt-onnx", 30), ("analyze-tflite", 110), ("schedule-tflite", 50),
])
def test_mutants_keep_the_contract(command, count, tmp_path):
    """Mutated models (bytes and structure) give exit 0 or one error line with exit 2, never a traceback."""
    kind = command.rsplit("-", 1)[1]
    base = zoo_onnx("digits_cnn").SerializeToString() if kind == "onnx" else digits_tflite()
    broken = []
    for i, (label, data) in enumerate(cases(kind, base, f"{SEED}:{command}", count)):
        model, output = tmp_path / f"m{i}.{kind}", tmp_path / f"o{i}.tflite"
        model.write_bytes(data)
        outcome = run_case(main, label, command_argv(command, model, output), output, CASE_TIMEOUT_S)
        if outcome.broken:
            broken.append(f"{label}: {outcome.broken}")
    assert not broken, f"{len(broken)} of {count} broke the contract:\n" + "\n".join(broken[:10])


ODD_OUTPUTS = {
    "empty": lambda d: "",
    "folder": lambda d: str(d),
    "under a file": lambda d: str(d / "m.onnx" / "x.tflite"),
    "the input": lambda d: str(d / "m.onnx"),
    "read-only place": lambda d: "/proc/mcugraph/x.tflite",
}


@pytest.mark.parametrize("target", ODD_OUTPUTS)
def test_odd_output_targets_keep_the_contract(target, tmp_path):
    """-o onto "", a folder, under a file, the input or a read-only place: one error line, nothing written."""
    model = tmp_path / "m.onnx"
    model.write_bytes(zoo_onnx("digits_cnn").SerializeToString())
    before = sorted(p.name for p in tmp_path.iterdir())
    output = ODD_OUTPUTS[target](tmp_path)
    outcome = run_case(main, target, ["opt", str(model), "-o", output, "--calib", "random:0,1,4"], None)
    assert outcome.code == 2 and outcome.broken is None, outcome
    assert sorted(p.name for p in tmp_path.iterdir()) == before
