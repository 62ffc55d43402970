"""Arguments and data checked once (mcugraph.arguments) and the parsers' properties (hypothesis)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcugraph.arguments import (
    MAX_RANDOM_SAMPLES,
    check_memory,
    check_train_config,
    parse_random_spec,
)
from mcugraph.cli.common import parse_input_shape
from mcugraph.errors import BudgetError, DataError, MCUGraphError, PipelineError, ShapeError
from mcugraph.prune.budgets import parse_bytes, parse_count
from mcugraph.prune.train import TrainConfig
from mcugraph.registry import build_pipeline, known_passes, parse_pipeline

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e9", "1e400", "-1e39", "", " ", "0x10", "1_000", "١"]),
)


@pytest.mark.parametrize("spec", ["random:nan,1", "random:0,inf", "random:0,1,nan", "random:0,1,1e9", "random:1,0",
                                  "random:", "random:0,1,0", "random:0,1,2.5", "random:-1e39,1", "random:0,1,2,3"])
def test_bad_random_specs_are_refused(spec):
    """NaN/Inf bounds, LO >= HI, bounds beyond float32, N not a whole number in 1..1e6: one DataError each."""
    with pytest.raises(DataError, match="expected random:LO,HI"):
        parse_random_spec(spec)


@given(low=NUMBER, high=NUMBER, count=st.one_of(st.none(), NUMBER))
def test_random_spec_is_parsed_or_refused(low, high, count):
    """Any random:LO,HI[,N] text gives finite LO < HI and a whole N in range, or DataError; nothing else."""
    spec = f"random:{low},{high}" + ("" if count is None else f",{count}")
    try:
        lo, hi, n = parse_random_spec(spec)
    except DataError:
        return
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi and math.isfinite(hi - lo)
    assert n is None or 1 <= n <= MAX_RANDOM_SAMPLES


def test_memory_need_is_refused_with_the_amount():
    """An allocation beyond half of this machine's memory is refused as "needs N GiB", not a MemoryError."""
    with pytest.raises(DataError, match=r"needs 1,024\.0 GiB"):
        check_memory(2**40, "--calib random:0,1,1000000")
    check_memory(2**20, "a megabyte")  # and it says yes to a sane amount


@given(st.text(max_size=30))
def test_input_shape_is_parsed_or_refused(text):
    """--input-shape text gives (name, positive dims) or ShapeError."""
    try:
        name, shape = parse_input_shape(text)
    except ShapeError:
        return
    assert name and shape and all(d > 0 for d in shape)


@given(st.text(alphabet="abc_", min_size=1, max_size=5), st.lists(st.integers(1, 4096), min_size=1, max_size=5))
def test_input_shape_round_trips(name, dims):
    """NAME=DxDx... parses back to the name and dims it was written from."""
    assert parse_input_shape(f"{name}={'x'.join(map(str, dims))}") == (name, tuple(dims))


@given(NUMBER, st.sampled_from(["", "B", "KB", "KiB", "kib", "MB", "MiB", "GB", "parsecs", " KiB"]))
def test_byte_budgets_are_positive_or_refused(number, unit):
    """--ram/--flash give a positive whole number of bytes, or BudgetError (never OverflowError or ValueError)."""
    try:
        value = parse_bytes(f"{number}{unit}")
    except BudgetError:
        return
    assert isinstance(value, int) and value > 0


@given(st.integers(1, 10**6))
def test_kib_budget_is_1024_bytes_each(n):
    """48KiB means 48 * 1024 bytes."""
    assert parse_bytes(f"{n}KiB") == n * 1024


@given(NUMBER, st.sampled_from(["", "k", "M", "G", "x"]))
def test_mac_budgets_are_positive_or_refused(number, unit):
    """--macs gives a positive whole count or BudgetError."""
    try:
        value = parse_count(f"{number}{unit}")
    except BudgetError:
        return
    assert isinstance(value, int) and value > 0


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-,{}=0123456789. ", max_size=40))
def test_pipeline_strings_parse_or_raise_pipeline_error(spec):
    """Any pipeline text builds a PassManager or raises PipelineError naming the problem."""
    try:
        parse_pipeline(spec)
        build_pipeline(spec)
    except PipelineError:
        pass


@given(st.lists(st.sampled_from(sorted(known_passes())), min_size=1, max_size=4))
def test_known_pass_names_always_build(names):
    """A comma-separated list of registered pass names always builds."""
    assert len(build_pipeline(",".join(names)).passes) == len(names)


@pytest.mark.parametrize("field, value, words", [
    ("lr", float("nan"), "lr .* finite"), ("lr", -1.0, "lr .* > 0"), ("retrain_lr", float("inf"), "finite"),
    ("distill", float("nan"), "distill .* finite"), ("distill", -1.0, "distill .* >= 0"),
    ("distill", 2.0, "distill .* <= 1"), ("prune_share", 0.0, "prune_share .* > 0"),
    ("prune_share", -1.0, "prune_share"), ("device", "tpu", "device 'tpu' is not known"),
    ("epochs", 0, "epochs .* >= 1"), ("batch_size", 0, "batch_size"), ("epochs", 2.5, "whole number"),
    ("floor", float("nan"), "floor .* finite"), ("floor", -0.5, "floor .* >= 0"), ("floor", 1.5, "floor .* <= 1"),
])
def test_bad_training_config_is_refused(field, value, words):
    """Non-finite rates, out-of-range shares, unknown devices and non-positive counts are refused up front."""
    with pytest.raises(MCUGraphError, match=words):
        check_train_config(dataclasses.replace(TrainConfig(), **{field: value}))
    check_train_config(TrainConfig())  # the defaults pass


def test_prune_cli_refuses_all_nan_data_quickly(tmp_path, capsys):
    """`prune --data all-NaN.npz` exits 2 with one line instead of spinning in the forced-cut loop."""
    from mcugraph import zoo
    from mcugraph.cli.main import main

    model = tmp_path / "d.onnx"
    model.write_bytes(zoo.onnx_model("digits_cnn").SerializeToString())
    np.savez(tmp_path / "nan.npz", x=np.full((8, 1, 8, 8), np.nan, np.float32), y=np.zeros(8, np.int64))
    code = main(["prune", str(model), "-o", str(tmp_path / "p.onnx"), "--data", str(tmp_path / "nan.npz"),
                 "--ram", "2KiB", "--epochs", "1"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "NaN or Inf" in lines[0]
    assert not (tmp_path / "p.onnx").exists()
