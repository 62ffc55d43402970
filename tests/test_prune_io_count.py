"""Pruning models with several inputs or outputs: x is a tuple (one array per graph input; .npz x0, x1, ...), the
built-in loss scores the first output, a callable loss gets them all, and the pruned model still exports."""

from __future__ import annotations

import numpy as np
import pytest

import mcugraph
from mcugraph import zoo_coverage
from mcugraph.errors import DataError
from mcugraph.prune.api import canonicalize, exact_resources
from mcugraph.prune.data import load_dataset


def _inputs(name: str, n: int = 32) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(0)
    return tuple(rng.uniform(0, 1, (n, *shape[1:])).astype(np.float32) for shape in zoo_coverage.FAMILIES[name].inputs)


@pytest.mark.parametrize(("name", "exporter"), [("two_inputs", "dynamo"), ("two_outputs", "legacy")])
def test_several_inputs_or_outputs_prune_and_export(name, exporter, tmp_path):
    """One epoch on random data reaches a budget below the arena; the pruned model exports and verifies."""
    path = zoo_coverage.export(name, tmp_path / "m.onnx", exporter)
    model = mcugraph.load(str(path))
    arena = exact_resources(canonicalize(mcugraph.load(str(path))))["ram"]
    xs = _inputs(name)
    y = np.random.default_rng(1).integers(0, int(model.graph.outputs[0].shape[-1]), len(xs[0]))
    result = mcugraph.prune(str(path), data=(xs if len(xs) > 1 else xs[0], y), ram=arena * 3 // 4, epochs=1)
    assert result.report["met"] and result.report["after"]["ram"] <= arena * 3 // 4 < arena
    assert len(result.model.graph.inputs) == len(model.graph.inputs)
    assert len(result.model.graph.outputs) == len(model.graph.outputs)
    calib = {v.name: a[:8] for v, a in zip(result.model.graph.inputs, xs, strict=True)}
    exported = mcugraph.optimize(result.model, calib=calib, progress=False, warn=lambda _: None)
    assert exported.report["verification"]["passed"]
    assert exported.report["arena_head_bytes"] <= arena * 3 // 4


def test_callable_loss_receives_every_output(tmp_path):
    path = zoo_coverage.export("two_outputs", tmp_path / "m.onnx", "legacy")
    seen = []

    def loss(outputs, target):
        seen.append(len(outputs))
        return outputs[0].square().mean() + outputs[1].square().mean()

    (x,) = _inputs("two_outputs", 16)
    mcugraph.prune(str(path), data=(x, np.zeros(16, np.int64)), flash=4000, epochs=1, loss=loss, batch_size=8,
                   renorm=False)
    assert seen and set(seen) == {2}


def test_npz_with_one_array_per_input(tmp_path):
    path = zoo_coverage.export("two_inputs", tmp_path / "m.onnx", "legacy")
    model = mcugraph.load(str(path))
    image, vector = _inputs("two_inputs", 4)
    np.savez(tmp_path / "d.npz", x0=image, x1=vector, y=np.arange(4))
    data = load_dataset(str(tmp_path / "d.npz"), model, "ce", "data")
    assert [a.shape for a in data.x] == [image.shape, vector.shape]
    np.testing.assert_array_equal(data.x[1], vector)


def test_wrong_number_of_input_arrays_is_refused_in_one_line(tmp_path):
    """A single array for a two-input model (or inputs swapped) is refused before training, naming the inputs."""
    path = zoo_coverage.export("two_inputs", tmp_path / "m.onnx", "legacy")
    image, vector = _inputs("two_inputs", 8)
    y = np.zeros(8, np.int64)
    with pytest.raises(DataError, match=r"1 input array\(s\) but the model has 2 input\(s\)") as info:
        mcugraph.prune(str(path), data=(image, y), ram=512, epochs=1)
    assert "\n" not in str(info.value)
    with pytest.raises(DataError, match="samples have shape"):
        mcugraph.prune(str(path), data=((vector, image), y), ram=512, epochs=1)
