"""Patch-based execution: run a model's memory-heavy leading stage (or two) one row band at a time, in stock TFLM ops.

One idea per module: :mod:`~mcugraph.patch.geometry` (which operators can run on row tiles, and which rows they
read), :mod:`~mcugraph.patch.stage` (the stages that can be tiled and their row bands), :mod:`~mcugraph.patch.rewrite`
(the .tflite rewrite: STRIDED_SLICE, PAD, VALID operators, CONCATENATION in place), :mod:`~mcugraph.patch.cost`
(MACs), :mod:`~mcugraph.patch.search` (the best stage, or pair of stages, and band counts under a MAC cap) and
:mod:`~mcugraph.patch.apply` (plan, write and verify in TFLM). See docs/patch.md.
"""
