"""``mcugraph analyze`` end to end: table, --json, --plot, --input-shape, zoo and MLPerf models."""

from __future__ import annotations

import json

import onnx
import pytest
import torch

from mcugraph import zoo
from mcugraph.cli.main import main
from mcugraph.pipeline import CANONICALIZE
from mcugraph.registry import known_passes

TINY = f"""
<ir_version: 8, opset_import: ["" : 17]>
tiny (float[N, 3, 8, 8] x) => (float[N, 16, 8, 8] y)
<float[16, 3, 3, 3] w = {{{", ".join(["0.1"] * 432)}}}, float[16] b = {{{", ".join(["0.0"] * 16)}}}>
{{
    c = Conv<pads = [1, 1, 1, 1]>(x, w, b)
    y = Relu(c)
}}
"""


@pytest.fixture
def tiny_path(tmp_path):
    path = tmp_path / "tiny.onnx"
    onnx.save(onnx.parser.parse_model(TINY), path)
    return path


def test_every_canonical_pass_is_registered():
    """The default pipeline names only registered passes (the analyze tests below rely on it, without skipping)."""
    assert [name for name in CANONICALIZE.split(",") if name not in known_passes()] == []


def test_table_and_totals(tiny_path, capsys):
    """The default command prints one row per node and the hand-counted totals."""
    assert main(["analyze", str(tiny_path)]) == 0
    out = capsys.readouterr().out
    assert f"tiny: {8 * 8 * 16 * 3 * 3 * 3:,} MACs, " in out
    assert f"B flash (.tflite) of which {16 * 3 * 3 * 3 + 16 * 4:,} B weights + biases" in out
    assert "Conv" in out and "Relu" in out


def test_json_to_stdout_is_only_json(tiny_path, capsys):
    """--json without a file prints parseable JSON and nothing else."""
    assert main(["analyze", str(tiny_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema_version"] == 2
    assert (data["model"], data["macs"], data["params"]) == ("tiny", 8 * 8 * 16 * 3 * 3 * 3, 16 * 3 * 3 * 3 + 16)
    assert [op["op"] for op in data["ops"]] == ["Conv", "Relu"]


def test_json_to_file_and_table(tiny_path, tmp_path, capsys):
    """--json FILE writes the report and still prints the table."""
    out_file = tmp_path / "out" / "report.json"
    assert main(["analyze", str(tiny_path), "--json", str(out_file)]) == 0
    assert "MACs" in capsys.readouterr().out
    assert json.loads(out_file.read_text())["weight_bytes"] == 16 * 3 * 3 * 3 + 16 * 4


def test_plot_writes_png(tiny_path, tmp_path):
    """--plot draws an image file."""
    image = tmp_path / "costs.png"
    assert main(["analyze", str(tiny_path), "--plot", str(image)]) == 0
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_unknown_image_type(tiny_path, tmp_path, capsys):
    """--plot with an extension matplotlib cannot write is a one-line error and no file."""
    assert main(["analyze", str(tiny_path), "--plot", str(tmp_path / "costs.xyz")]) == 2
    assert "unknown image type '.xyz'" in capsys.readouterr().err
    assert not (tmp_path / "costs.xyz").exists()


def test_input_shape_changes_the_costs(tiny_path, capsys):
    """--input-shape x=1x3x16x16 quadruples the conv's MACs."""
    assert main(["analyze", str(tiny_path), "--input-shape", "x=1x3x16x16", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["macs"] == 16 * 16 * 16 * 3 * 3 * 3


def torch_counts(name: str) -> tuple[int, int, int]:
    """(MACs, parameters, BatchNorm channels) of the zoo model counted in torch, independently of the IR."""
    module, x = zoo.build(name)
    total = 0

    def count(layer, inputs, output):
        nonlocal total
        if isinstance(layer, torch.nn.Conv2d):
            total += output.numel() * layer.weight[0].numel()  # weight[0]: Ic/groups * Kh * Kw
        else:
            total += output.numel() * layer.in_features

    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        module(x)
    for hook in hooks:
        hook.remove()
    bn_channels = sum(m.num_features for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return total, sum(p.numel() for p in module.parameters()), bn_channels


@pytest.mark.parametrize("name", ["mobilenetv2", "resnet", "inception", "densenet"])
def test_zoo_models_match_torch_counts(zoo, name, tmp_path, capsys):
    """Zoo models: MACs equal torch's count; with BN kept, params equal torch's; folding BN leaves one bias per channel."""
    path = tmp_path / f"{name}.onnx"
    onnx.save(zoo(name), path)
    macs, params, bn_channels = torch_counts(name)
    assert main(["analyze", str(path), "--pipeline", "", "--json"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert (raw["macs"], raw["params"]) == (macs, params)
    assert main(["analyze", str(path), "--json"]) == 0
    canonical = json.loads(capsys.readouterr().out)
    assert (canonical["macs"], canonical["params"]) == (macs, params - bn_channels)
    assert not any(op["op"] == "BatchNormalization" for op in canonical["ops"])


def resnet8_hand_count() -> tuple[int, int, int]:
    """MLPerf Tiny ResNet-8 on 32x32x3: (MACs, flash bytes, params), counted layer by layer."""
    convs = [  # (output h*w, out channels, kernel area, in channels)
        (32 * 32, 16, 3 * 3, 3),  # stem
        (32 * 32, 16, 3 * 3, 16), (32 * 32, 16, 3 * 3, 16),  # stage 1
        (16 * 16, 32, 3 * 3, 16), (16 * 16, 32, 3 * 3, 32), (16 * 16, 32, 1, 16),  # stage 2 + 1x1 shortcut
        (8 * 8, 64, 3 * 3, 32), (8 * 8, 64, 3 * 3, 64), (8 * 8, 64, 1, 32),  # stage 3 + 1x1 shortcut
    ]
    macs = sum(hw * oc * k * ic for hw, oc, k, ic in convs) + 64 * 10
    weights = sum(oc * k * ic for _, oc, k, ic in convs) + 64 * 10
    biases = sum(oc for _, oc, _, _ in convs) + 10
    return macs, weights + 4 * biases, weights + biases


# Totals of the other MLPerf models (published sizes: DS-CNN ~2.7M MACs, MobileNetV1-0.25 ~7.5M, AE ~264k).
MLPERF_TOTALS = {
    "kws_dscnn": 2_656_768,
    "vww_mobilenetv1": 7_489_664,
    "ad_autoencoder": 264_192,
}


@pytest.mark.parametrize("name", ["kws_dscnn", "vww_mobilenetv1", "ic_resnet8", "ad_autoencoder"])
def test_mlperf_models(shared_models, name, capsys):
    """Every MLPerf ONNX model analyses with the default pipeline; ResNet-8 matches the hand count exactly."""
    assert main(["analyze", str(shared_models / f"{name}.onnx"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    if name == "ic_resnet8":
        assert (data["macs"], data["weight_bytes"], data["params"]) == resnet8_hand_count()
    else:
        assert data["macs"] == MLPERF_TOTALS[name]
    assert not any(op["op"] in ("DequantizeLinear", "Identity", "BatchNormalization") for op in data["ops"])


def test_groups_on_a_tflite_file_is_a_clear_error(tmp_path, capsys):
    """`analyze X.tflite --groups` exits 2 with one line: channel groups need the ONNX IR."""
    from mcugraph.tflite.builder import peak_at_add

    path = tmp_path / "m.tflite"
    path.write_bytes(peak_at_add())
    assert main(["analyze", str(path), "--groups"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--groups needs an ONNX model" in err[0]
