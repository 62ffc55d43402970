"""TFLM's OfflineMemoryAllocation metadata and operator reordering (mcugraph.tflite.offline_plan)."""

from __future__ import annotations

import numpy as np
import pytest

from mcugraph.errors import InvalidModelError
from mcugraph.tflite import schema as tfl
from mcugraph.tflite.builder import TinyTflite
from mcugraph.tflite.offline_plan import (
    METADATA_NAME,
    read_offline_plan,
    remove_offline_plan,
    reorder_operators,
    write_offline_plan,
)
from mcugraph.tflite.tflm import arena_head, run_tflm

SHAPE = (1, 8, 8, 4)  # 256 float32 = 1024 bytes


def _two_branches() -> bytes:
    """x -> a = x*k, b = x+x, o = a+b: operators 0 and 1 are independent."""
    b = TinyTflite()
    x = b.tensor("x", SHAPE)
    k = b.tensor("k", SHAPE, data=np.full(SHAPE, 0.5, np.float32))
    a, c, o = (b.tensor(n, SHAPE) for n in "abo")
    b.op("MUL", [x, k], [a])
    b.op("ADD", [x, x], [c])
    b.op("ADD", [a, c], [o])
    return b.build([x], [o])


def _inputs():
    return [np.random.default_rng(0).standard_normal(SHAPE).astype(np.float32)]


def test_written_plan_reads_back_and_tflm_follows_it():
    """A plan placing four tensors side by side makes TFLM's head exactly their total bytes."""
    model = tfl.read(_two_branches())
    offsets = [0, -1, 1024, 2048, 3072]
    write_offline_plan(model, offsets)
    data = tfl.pack(model)
    assert read_offline_plan(tfl.read(data)) == tuple(offsets)
    assert arena_head(data) == 4096 < 1024 * 5
    np.testing.assert_array_equal(run_tflm(data, _inputs())[0], run_tflm(_two_branches(), _inputs())[0])


def test_metadata_layout_is_version_subgraphs_count_offsets():
    """The buffer holds little-endian int32 [1, 1, N, offsets...] under the exact metadata name."""
    model = tfl.read(_two_branches())
    write_offline_plan(model, [0, -1, 0, 1024, 0])
    (entry,) = [m for m in model.metadata if m.name == METADATA_NAME]
    words = np.frombuffer(np.asarray(model.buffers[entry.buffer].data, np.uint8).tobytes(), "<i4")
    assert words.tolist() == [1, 1, 5, 0, -1, 0, 1024, 0]


def test_rewriting_a_plan_replaces_it():
    """Writing twice leaves one entry holding the second plan."""
    model = tfl.read(_two_branches())
    write_offline_plan(model, [0, -1, 0, 1024, 0])
    write_offline_plan(model, [0, -1, 1024, 2048, 0])
    model = tfl.read(tfl.pack(model))
    assert [m.name for m in model.metadata].count(METADATA_NAME.encode()) == 1
    assert read_offline_plan(model) == (0, -1, 1024, 2048, 0)


def test_model_without_plan_reads_none_and_removal_reports_it():
    """No metadata entry means None; removing a written plan leaves none."""
    model = tfl.read(_two_branches())
    assert read_offline_plan(model) is None and not remove_offline_plan(model)
    write_offline_plan(model, [0, -1, 0, 1024, 0])
    assert remove_offline_plan(model) and read_offline_plan(tfl.read(tfl.pack(model))) is None


def test_constant_tensor_offset_is_refused():
    """A constant (flash) tensor cannot be given an arena offset."""
    with pytest.raises(ValueError, match="constant"):
        write_offline_plan(tfl.read(_two_branches()), [0, 0, 1024, 2048, 3072])


def test_foreign_plan_version_is_refused():
    """A plan of another version is reported, not silently overwritten."""
    model = tfl.read(_two_branches())
    write_offline_plan(model, [0, -1, 0, 1024, 0])
    (entry,) = [m for m in model.metadata if m.name == METADATA_NAME]
    model.buffers[entry.buffer].data[0] = 2
    with pytest.raises(InvalidModelError, match="version 2"):
        write_offline_plan(model, [0, -1, 0, 1024, 0])


def test_plan_for_another_tensor_count_is_refused():
    """A plan whose N differs from the model's tensor count is refused, as TFLM would."""
    model = tfl.read(_two_branches())
    write_offline_plan(model, [0, -1, 0, 1024, 0])
    model.subgraphs[0].tensors.append(model.subgraphs[0].tensors[0])
    with pytest.raises(InvalidModelError, match="another model"):
        read_offline_plan(model)


def test_reordered_operators_give_the_same_outputs():
    """Swapping the two independent branches keeps TFLM's outputs bit-exact."""
    model = tfl.read(_two_branches())
    reorder_operators(model, [1, 0, 2])
    assert [op.inputs.tolist() for op in model.subgraphs[0].operators][0] == [0, 0]
    np.testing.assert_array_equal(run_tflm(tfl.pack(model), _inputs())[0], run_tflm(_two_branches(), _inputs())[0])


def test_reorder_refuses_reading_before_writing():
    """An order running the final ADD before its producers is refused."""
    with pytest.raises(ValueError, match="before operator"):
        reorder_operators(tfl.read(_two_branches()), [2, 0, 1])
