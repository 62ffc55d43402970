"""Pruning trains one input on one output: models with more are refused before training, in one line (a two-output
model used to crash with a TypeError traceback in the first batch)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mcugraph
from mcugraph import zoo_coverage
from mcugraph.errors import DataError


@pytest.mark.parametrize(("name", "counts"), [("two_outputs", "1 input(s)"), ("two_inputs", "2 input(s)")])
def test_several_inputs_or_outputs_are_refused_before_training(name, counts, tmp_path):
    """The refusal names the counts and the values, and comes before any epoch."""
    path = zoo_coverage.export(name, tmp_path / "m.onnx", "legacy")
    x = np.random.default_rng(0).uniform(0, 1, (8, 1, 16, 16)).astype(np.float32)
    with pytest.raises(DataError, match="cannot prune, no training started: the model has " + re.escape(counts)):
        mcugraph.prune(str(path), data=(x, np.zeros(8, np.int64)), ram=512, epochs=1)
