"""Verification's arithmetic on hand-made outputs (no runtime): pass/fail, worst SQNR, top-1 agreement, layouts.

The end-to-end tests (test_export_pipeline.py) only see models that verify well; these feed wrong answers and
expect the verdict to change, so a flipped comparison or a self-comparison cannot pass unnoticed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import mcugraph
from mcugraph.errors import ExportError
from mcugraph.export import verify
from mcugraph.export.verify import (
    DEFAULT_MIN_SQNR_DB,
    TensorIO,
    VerifyResult,
    _to_shape,
    _top1,
    _worst_sqnr,
    check,
    from_outputs,
    measure,
    sqnr_db,
    tensor_io,
    to_tflite,
)

PASSING = VerifyResult(samples=4, sqnr_db=30.0, litert_sqnr_db=25.0, max_abs_error=0.01, top1_agreement=1.0,
                       tflm_litert_max_diff=0.0, min_sqnr_db=10.0, arena_head_bytes=1024, predicted_arena_bytes=1024)


@pytest.mark.parametrize(("tflm", "litert", "passed"), [
    (30.0, 25.0, True),
    (10.0, 10.0, True),  # the threshold itself passes
    (9.9, 40.0, False),  # TFLM below: fails however good LiteRT is
    (40.0, 9.9, False),  # LiteRT below: fails however good TFLM is
    (5.0, 5.0, False),
])
def test_passed_needs_both_runtimes_at_or_above_the_threshold(tflm, litert, passed):
    """The worse of TFLM's and LiteRT's SQNR decides; either one below --verify-min-sqnr fails."""
    result = dataclasses.replace(PASSING, sqnr_db=tflm, litert_sqnr_db=litert)
    assert result.passed is passed
    assert result.as_dict()["passed"] is passed


def test_check_raises_with_the_numbers_only_when_failed():
    """check() is silent on a pass and raises one line naming both SQNRs and the threshold on a fail."""
    check(PASSING)
    with pytest.raises(ExportError, match=r"^m\.tflite: verification failed on 4 .*TFLM 30\.0 dB, LiteRT 3\.0 dB "
                                          r"< --verify-min-sqnr 10 dB") as e:
        check(dataclasses.replace(PASSING, litert_sqnr_db=3.0), "m.tflite")
    assert "\n" not in str(e.value)


def test_sqnr_values_by_hand():
    """20 dB for noise at 1% of the signal power, capped at an exact match, -cap for a silent reference."""
    ref = np.array([3.0, -4.0])  # power 25
    assert sqnr_db(ref, ref + np.array([0.5, 0.0])) == pytest.approx(10 * np.log10(25 / 0.25))
    assert sqnr_db(ref, ref * 1.1) == pytest.approx(20.0)
    assert sqnr_db(ref, ref) == 200.0
    assert sqnr_db(np.zeros(2), np.ones(2)) == -200.0
    assert sqnr_db(ref, ref * (1 + 1e-12)) == 200.0  # above the cap: capped, not 240 dB


def test_worst_sqnr_is_the_worst_output_over_all_samples():
    """Two outputs, two samples: output 0 is exact, output 1 has 20 dB; the worst (20 dB) is reported."""
    expected = [[np.array([1.0, 2.0]), np.array([3.0, -4.0])], [np.array([5.0, 6.0]), np.array([-3.0, 4.0])]]
    actual = [[e[0].copy(), e[1] * 1.1] for e in expected]
    assert _worst_sqnr(expected, actual) == pytest.approx(20.0)
    actual[1][0] = expected[1][0] * 2.0  # output 0 now 0 dB on the second sample: the sum over samples counts
    assert _worst_sqnr(expected, actual) == pytest.approx(10 * np.log10((1 + 4 + 25 + 36) / (25 + 36)))


def _scores(*winners: int, classes: int = 4) -> list[list[np.ndarray]]:
    """One (1, classes) output per sample whose argmax is the given class."""
    out = []
    for w in winners:
        s = np.zeros((1, classes), np.float32)
        s[0, w] = 1.0
        out.append([s])
    return out


def test_top1_counts_samples_whose_argmax_agrees():
    """Reference classes 0,1,2,3 vs actual 0,1,3,3: 3 of 4 agree."""
    assert _top1(_scores(0, 1, 2, 3), _scores(0, 1, 3, 3), input_size=64) == 0.75
    assert _top1(_scores(0, 1, 2, 3), _scores(1, 2, 3, 0), input_size=64) == 0.0
    assert _top1(_scores(2, 2), _scores(2, 2), input_size=64) == 1.0


def test_top1_uses_the_first_classification_output():
    """A (1, 2, 2) map is skipped; the (1, 4) output that follows is compared."""
    ref = [[np.zeros((1, 2, 2)), s[0]] for s in _scores(0, 1)]
    act = [[np.ones((1, 2, 2)), s[0]] for s in _scores(0, 2)]
    assert _top1(ref, act, input_size=64) == 0.5


@pytest.mark.parametrize(("shape", "input_size"), [((1, 4), 4), ((1, 1), 64), ((1, 1001), 5000), ((2, 4), 64),
                                                   ((1, 4, 1), 64)])
def test_top1_is_none_without_a_classification_output(shape, input_size):
    """Not (1, K) with 2 <= K <= 1000 and K < input size (an autoencoder's reconstruction): no top-1."""
    outputs = [[np.zeros(shape)], [np.ones(shape)]]
    assert _top1(outputs, outputs, input_size) is None


def test_top1_bounds_are_inclusive():
    """K = 2 and K = 1000 (with a bigger input) are classification outputs; K = input size - 1 is too."""
    assert _top1(_scores(0, classes=2), _scores(1, classes=2), input_size=3) == 0.0
    assert _top1(_scores(999, classes=1000), _scores(999, classes=1000), input_size=1001) == 1.0


def test_to_tflite_quantises_with_rounding_and_saturation():
    """real / scale + zero point, rounded, clipped to int8; NCHW becomes NHWC by shape; float stays float."""
    io = TensorIO((1, 2, 2, 1), np.dtype(np.int8), 0.5, 3)
    x = np.array([0.0, 1.2, 100.0, -100.0], np.float32).reshape(1, 1, 2, 2)
    q = to_tflite(x, io)
    assert q.dtype == np.int8 and q.shape == (1, 2, 2, 1)
    assert q.reshape(-1).tolist() == [3, 5, 127, -128]
    f = to_tflite(x, TensorIO((1, 1, 2, 2), np.dtype(np.float32), None, 0))
    assert f.dtype == np.float32 and np.array_equal(f, x)


def test_to_tflite_follows_the_exporter_permutation():
    """With the exporter's perm the layout is not guessed (C == H == W would be ambiguous)."""
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    io = TensorIO((1, 2, 2, 2), np.dtype(np.float32), None, 0)
    assert np.array_equal(to_tflite(x, io), x)  # same shape: taken as is
    assert np.array_equal(to_tflite(x, io, (0, 2, 3, 1)), x.transpose(0, 2, 3, 1))


def test_to_shape_reshapes_or_refuses():
    """Same size, other shape: reshaped; a size that cannot match: ExportError naming both shapes."""
    assert _to_shape(np.zeros((1, 6)), (1, 2, 3), "input").shape == (1, 2, 3)
    with pytest.raises(ExportError, match=r"\(1, 5\).*\(1, 6\)"):
        _to_shape(np.zeros((1, 6)), (1, 5), "input")


def test_from_outputs_dequantises_and_restores_the_onnx_layout():
    """int8 codes -> (q - zero point) * scale; an NHWC output is transposed back to the reference's NCHW."""
    io = TensorIO((1, 2, 2, 3), np.dtype(np.int8), 0.25, -2)
    q = np.arange(12, dtype=np.int8).reshape(1, 2, 2, 3)
    ref = np.zeros((1, 3, 2, 2), np.float32)
    (y,) = from_outputs([q], [io], [ref])
    assert y.shape == (1, 3, 2, 2)
    np.testing.assert_array_equal(y, ((q.astype(np.float32) + 2) * 0.25).transpose(0, 3, 1, 2))
    (flat,) = from_outputs([q.reshape(1, 12)], [io], [np.zeros((1, 12))])
    assert flat.shape == (1, 12)
    with pytest.raises(ExportError, match="shape"):
        from_outputs([q], [io], [np.zeros((1, 5))])


def test_default_thresholds_are_the_documented_ones():
    """10 dB int8 and 40 dB float32, as docs/export.md and `mcugraph opt --help` state."""
    docs = (Path(__file__).resolve().parents[1] / "docs" / "export.md").read_text()
    stated = re.search(r"default (\d+) dB int8, (\d+) dB float32", docs)
    assert stated is not None
    assert DEFAULT_MIN_SQNR_DB == {"int8": float(stated[1]), "float32": float(stated[2])} == {"int8": 10.0,
                                                                                              "float32": 40.0}


# measure() end to end on a one-Gemm classifier y = x W^T (8 features, 4 classes), so that the expected figures
# follow from numpy: TFLM and LiteRT run the .tflite, onnxruntime the reference.
WEIGHTS = np.random.default_rng(0).normal(size=(4, 8)).astype(np.float32)


def _gemm_model(weights: np.ndarray, initializer_as_input: bool = False, inputs: int = 1) -> onnx.ModelProto:
    """y = x W^T; ``inputs=2`` adds a second input x2 (y = x W^T + x2 W^T) only to give the model two inputs."""
    names = ["x", "x2"][:inputs]
    graph_inputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [1, 8]) for n in names]
    if initializer_as_input:  # IR < 4 style: initializers listed as graph inputs too
        graph_inputs.append(helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [4, 8]))
    nodes = [helper.make_node("Gemm", [n, "w"], ["y" if inputs == 1 else f"g_{n}"], transB=1) for n in names]
    if inputs == 2:
        nodes.append(helper.make_node("Add", ["g_x", "g_x2"], ["y"]))
    graph = helper.make_graph(nodes, "gemm", graph_inputs,
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
                              [numpy_helper.from_array(weights, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def int8_gemm() -> bytes:
    return mcugraph.optimize(_gemm_model(WEIGHTS), calib="random:-1,1,50", progress=False,
                             warn=lambda _: None).tflite


def _samples(count: int = 6) -> dict[str, np.ndarray]:
    """Samples of growing magnitude, so that the worst sample differs from the best by far."""
    x = np.random.default_rng(1).uniform(-1, 1, size=(count, 8)).astype(np.float32)
    return {"x": x * np.linspace(0.2, 1.0, count, dtype=np.float32).reshape(-1, 1)}


def test_measure_int8_against_its_reference(int8_gemm):
    """The right reference: int8-level SQNR in both runtimes, errors of a few output steps, argmax mostly kept."""
    samples = _samples()
    result = measure(int8_gemm, _gemm_model(WEIGHTS, initializer_as_input=True), samples, min_sqnr_db=10.0,
                     predicted_arena_bytes=4321, arena_head_bytes=1234)
    _, (out,) = tensor_io(int8_gemm)
    assert result.samples == 6 and result.passed
    assert 20.0 < result.sqnr_db < 60.0 and 20.0 < result.litert_sqnr_db < 60.0
    assert 0.0 < result.max_abs_error < 4 * out.scale
    assert result.tflm_litert_max_diff <= out.scale
    assert result.top1_agreement >= 5 / 6
    assert (result.min_sqnr_db, result.arena_head_bytes, result.predicted_arena_bytes) == (10.0, 1234, 4321)


def test_measure_on_one_sample(int8_gemm):
    """A single held-out sample is enough (the input size is read from sample 0)."""
    result = measure(int8_gemm, _gemm_model(WEIGHTS), _samples(1), min_sqnr_db=10.0)
    assert result.samples == 1 and result.passed and result.top1_agreement == 1.0


def test_measure_against_a_wrong_reference(int8_gemm):
    """Reference y = -x W^T: the noise is twice the signal in amplitude (10 log10(1/4) = -6 dB), no argmax agrees, the
    max abs error is twice the largest |y| over all samples (the last, largest sample: not the first)."""
    samples = _samples()
    result = measure(int8_gemm, _gemm_model(-WEIGHTS), samples, min_sqnr_db=10.0)
    truth = samples["x"] @ WEIGHTS.T
    assert result.sqnr_db == pytest.approx(10 * np.log10(1 / 4), abs=0.5)
    assert result.litert_sqnr_db == pytest.approx(result.sqnr_db, abs=0.5)
    assert not result.passed
    assert result.top1_agreement == 0.0
    assert result.max_abs_error == pytest.approx(2 * np.max(np.abs(truth)), rel=0.05)
    from mcugraph.tflite.tflm import arena_head

    assert result.arena_head_bytes == arena_head(int8_gemm)


def test_measure_reports_a_litert_disagreement(int8_gemm, monkeypatch):
    """LiteRT off by 0.5 on one output of one sample: the TFLM-LiteRT difference and LiteRT's SQNR show it,
    TFLM's figures do not change."""
    honest = measure(int8_gemm, _gemm_model(WEIGHTS), _samples(), min_sqnr_db=10.0)
    calls = []

    def skewed(data, inputs):
        outputs = real(data, inputs)
        calls.append(1)
        if len(calls) == 3:
            outputs[0] = outputs[0].copy()
            outputs[0][0, 0] += 20  # 20 int8 steps
        return outputs

    real = verify._quiet_litert
    monkeypatch.setattr(verify, "_quiet_litert", skewed)
    result = measure(int8_gemm, _gemm_model(WEIGHTS), _samples(), min_sqnr_db=10.0)
    _, (out,) = tensor_io(int8_gemm)
    assert result.tflm_litert_max_diff == pytest.approx(honest.tflm_litert_max_diff + 20 * out.scale, abs=out.scale)
    assert result.litert_sqnr_db < honest.litert_sqnr_db - 3
    assert (result.sqnr_db, result.max_abs_error) == (honest.sqnr_db, honest.max_abs_error)


def test_measure_refuses_a_reference_with_other_inputs(int8_gemm):
    """A reference with two inputs for a one-input .tflite: ExportError before anything runs."""
    with pytest.raises(ExportError, match="1 input.*2; cannot verify"):
        measure(int8_gemm, _gemm_model(WEIGHTS, inputs=2), {"x": np.zeros((1, 8)), "x2": np.zeros((1, 8))},
                min_sqnr_db=10.0)


def test_tensor_io_reads_the_quantisation_of_each_side(int8_gemm):
    """int8 input calibrated on [-1, 1]: scale ~2/255, zero point ~0; a float32 export has no scale."""
    (inp,), (out,) = tensor_io(int8_gemm)
    assert inp.shape == (1, 8) and inp.dtype == np.int8 and out.shape == (1, 4) and out.dtype == np.int8
    assert inp.scale == pytest.approx(2 / 255, rel=0.03) and inp.zero_point in (-1, 0, 1)
    assert out.scale > 0 and -128 <= out.zero_point <= 127
    (f_in,), (f_out,) = tensor_io(mcugraph.optimize(_gemm_model(WEIGHTS), quantize=False).tflite)
    assert f_in == TensorIO((1, 8), np.dtype(np.float32), None, 0)
    assert f_out == TensorIO((1, 4), np.dtype(np.float32), None, 0)


def test_to_shape_moves_channels_last_by_shape():
    """(1, 3, 2, 2) NCHW fed to a (1, 2, 2, 3) input is transposed, not reshaped (which would mix channels)."""
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 2, 2)
    np.testing.assert_array_equal(_to_shape(x, (1, 2, 2, 3), "input"), x.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(_to_shape(x, (1, 12), "input"), x.reshape(1, 12))


def test_from_outputs_reshapes_an_output_of_the_same_size():
    """A (1, 12) .tflite output for a (1, 3, 4) reference is reshaped; float32 outputs are not rescaled."""
    io = TensorIO((1, 12), np.dtype(np.float32), None, 0)
    y = np.arange(12, dtype=np.float32).reshape(1, 12)
    (out,) = from_outputs([y], [io], [np.zeros((1, 3, 4), np.float32)])
    np.testing.assert_array_equal(out, y.reshape(1, 3, 4))


def test_tensor_io_refuses_a_type_it_cannot_feed(int8_gemm):
    """An INT64 output tensor: ExportError naming the tensor, not a KeyError."""
    from mcugraph.tflite import schema as tfl

    model = tfl.read(int8_gemm)
    graph = model.subgraphs[0]
    graph.tensors[graph.outputs[0]].type = tfl.schema.TensorType.INT64
    with pytest.raises(ExportError, match=f"tensor {graph.outputs[0]} has TFLite type .*cannot feed"):
        tensor_io(tfl.pack(model))
