"""The model families people deploy on microcontrollers, small, written in torch (no torchvision): the coverage zoo.

``benchmarks/coverage.py`` exports each family with both torch exporters and reports how far ``analyze``, ``opt``
and ``prune`` get; tests import the same definitions. A family is a :class:`Family`: a constructor, the example
input shapes (batch 1), the value range random calibration data should cover, whether pruning applies (CNNs) and
its loss. ``mcugraph.zoo`` models (MobileNetV2-, ResNet-, Inception-, DenseNet-style, the digits CNN) are reused.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from mcugraph import zoo


def _act(kind: type | None) -> list[nn.Module]:
    return [kind()] if kind is not None else []


def conv1d_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: type | None = nn.ReLU):
    return nn.Sequential(
        nn.Conv1d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm1d(cout), *_act(act)
    )


class Cnn2d(nn.Module):
    """The plain image classifier: conv-BN-ReLU, max pooling, a linear head."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            zoo.conv_bn(3, 16), nn.MaxPool2d(2), zoo.conv_bn(16, 32), nn.MaxPool2d(2), zoo.conv_bn(32, 32)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 8 * 8, classes))

    def forward(self, x):
        return self.head(self.features(x))


class KwsCnn1d(nn.Module):
    """Keyword spotting on MFCC frames: (1, 40 coefficients, 49 frames), 1-D convs over time."""

    def __init__(self, classes: int = 12):
        super().__init__()
        self.features = nn.Sequential(
            conv1d_bn(40, 32, 3), nn.MaxPool1d(2), conv1d_bn(32, 48, 3), nn.MaxPool1d(2), conv1d_bn(48, 64, 3)
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


class AccelCnn1d(nn.Module):
    """Activity recognition on a 3-axis accelerometer window: (1, 3, 128), strided 1-D convs, average pooling."""

    def __init__(self, classes: int = 6):
        super().__init__()
        self.features = nn.Sequential(
            conv1d_bn(3, 16, 5, 2), conv1d_bn(16, 32, 5, 2), nn.AvgPool1d(2), conv1d_bn(32, 32, 3)
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 16, classes))

    def forward(self, x):
        return self.head(self.features(x))


class EcgDsCnn1d(nn.Module):
    """ECG beat classification, (1, 1, 256): depthwise-separable 1-D convs."""

    def __init__(self, classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            conv1d_bn(1, 16, 7, 2),
            conv1d_bn(16, 16, 5, 2, groups=16), conv1d_bn(16, 32, 1),
            conv1d_bn(32, 32, 5, 2, groups=32), conv1d_bn(32, 32, 1),
            nn.AdaptiveMaxPool1d(1),
        )
        self.head = nn.Linear(32, classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x):
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * nn.functional.hardsigmoid(self.fc2(nn.functional.relu(self.fc1(s))))


class MobileNetV3Block(nn.Module):
    def __init__(self, cin: int, hidden: int, cout: int, k: int, stride: int, se: bool, act: type):
        super().__init__()
        layers = [zoo.conv_bn(cin, hidden, 1, act=act)] if hidden != cin else []
        layers.append(zoo.conv_bn(hidden, hidden, k, stride, groups=hidden, act=act))
        if se:
            layers.append(SqueezeExcite(hidden, max(8, hidden // 4)))
        layers.append(zoo.conv_bn(hidden, cout, 1, act=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3Style(nn.Module):
    """MobileNetV3-small-like: HardSwish, squeeze-excite with HardSigmoid, 5x5 depthwise."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            zoo.conv_bn(3, 16, 3, 2, act=nn.Hardswish),
            MobileNetV3Block(16, 16, 16, 3, 2, True, nn.ReLU),
            MobileNetV3Block(16, 48, 24, 3, 2, False, nn.ReLU),
            MobileNetV3Block(24, 64, 24, 3, 1, False, nn.ReLU),
            MobileNetV3Block(24, 64, 32, 5, 2, True, nn.Hardswish),
            MobileNetV3Block(32, 96, 32, 5, 1, True, nn.Hardswish),
            zoo.conv_bn(32, 128, 1, act=nn.Hardswish),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 64), nn.Hardswish(), nn.Linear(64, classes)
        )

    def forward(self, x):
        return self.head(self.features(x))


class EfficientNetLiteStyle(nn.Module):
    """EfficientNet-lite: MBConv blocks with ReLU6 and no squeeze-excite (the MCU-friendly variant)."""

    def __init__(self, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            zoo.conv_bn(3, 16, 3, 2, act=nn.ReLU6),
            MobileNetV3Block(16, 16, 8, 3, 1, False, nn.ReLU6),
            MobileNetV3Block(8, 48, 16, 3, 2, False, nn.ReLU6),
            MobileNetV3Block(16, 96, 16, 3, 1, False, nn.ReLU6),
            MobileNetV3Block(16, 96, 24, 5, 2, False, nn.ReLU6),
            MobileNetV3Block(24, 144, 24, 5, 1, False, nn.ReLU6),
            zoo.conv_bn(24, 96, 1, act=nn.ReLU6),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(96, classes))

    def forward(self, x):
        return self.head(self.features(x))


class DsCnn(nn.Module):
    """MLPerf Tiny's keyword-spotting DS-CNN shape: (1, 1, 49, 10) MFCC image, depthwise-separable 2-D convs."""

    def __init__(self, classes: int = 12, width: int = 32):
        super().__init__()
        blocks = [zoo.conv_bn(1, width, 3, 2)]
        for _ in range(3):
            blocks += [zoo.conv_bn(width, width, 3, groups=width), zoo.conv_bn(width, width, 1)]
        self.features = nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.features(x))


class Mlp(nn.Module):
    """Tabular / sensor-feature classifier."""

    def __init__(self, features: int = 64, classes: int = 8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, classes))

    def forward(self, x):
        return self.net(x)


class MlpAutoencoder(nn.Module):
    """Anomaly detection on machine sound (MLPerf Tiny AD shape): 640 features -> 8 -> 640."""

    def __init__(self, features: int = 640):
        super().__init__()
        dims = [features, 128, 128, 8, 128, 128]
        layers: list[nn.Module] = []
        for a, b in zip(dims, dims[1:], strict=False):
            layers += [nn.Linear(a, b), nn.BatchNorm1d(b), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(128, features))

    def forward(self, x):
        return self.net(x)


class ConvAutoencoder(nn.Module):
    """Image autoencoder: strided convs down, PyTorch's standard 2x ConvTranspose (k3 s2 p1 output_padding 1) up."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(zoo.conv_bn(1, 8, 3, 2), zoo.conv_bn(8, 16, 3, 2))
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 3, 2, 1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 3, 2, 1, output_padding=1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class TinyUNet(nn.Module):
    """Segmentation: max-pool down, nearest upsampling, skip concatenation."""

    def __init__(self, classes: int = 2):
        super().__init__()
        self.down1 = zoo.conv_bn(3, 8)
        self.down2 = zoo.conv_bn(8, 16)
        self.bottom = zoo.conv_bn(16, 16)
        self.up2 = zoo.conv_bn(32, 8)
        self.up1 = zoo.conv_bn(16, 8)
        self.out = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(nn.functional.max_pool2d(d1, 2))
        b = self.bottom(nn.functional.max_pool2d(d2, 2))
        u2 = self.up2(torch.cat([nn.functional.interpolate(b, scale_factor=2.0, mode="nearest"), d2], 1))
        u1 = self.up1(torch.cat([nn.functional.interpolate(u2, scale_factor=2.0, mode="nearest"), d1], 1))
        return self.out(u1)


class RecurrentClassifier(nn.Module):
    """A sequence (1, T, features) through one LSTM or GRU layer, the last step to a linear head."""

    def __init__(self, cell: str = "lstm", features: int = 8, hidden: int = 16, classes: int = 4):
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


class TinyTransformer(nn.Module):
    """One pre-norm transformer encoder block on (1, T, D) tokens, attention written out (MatMul, Softmax)."""

    def __init__(self, dim: int = 32, tokens: int = 16, classes: int = 4):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.q, self.k, self.v, self.proj = (nn.Linear(dim, dim) for _ in range(4))
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, classes)
        self.scale = dim ** -0.5

    def forward(self, x):
        h = self.norm1(x)
        attention = torch.softmax(self.q(h) @ self.k(h).transpose(1, 2) * self.scale, dim=-1)
        x = x + self.proj(attention @ self.v(h))
        x = x + self.ffn(self.norm2(x))
        return self.head(x.mean(dim=1))


class ActivationNet(nn.Module):
    """A small CNN whose nonlinearity is ``act`` (ELU, GELU with erf, ...)."""

    def __init__(self, act: type, classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), act(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), act()
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 32), act(), nn.Linear(32, classes))

    def forward(self, x):
        return self.head(self.features(x))


class TwoInputs(nn.Module):
    """Sensor fusion: an image branch and a feature-vector branch, concatenated before the head."""

    def __init__(self, classes: int = 5):
        super().__init__()
        self.image = nn.Sequential(zoo.conv_bn(1, 8, 3, 2), zoo.conv_bn(8, 16, 3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.vector = nn.Sequential(nn.Linear(12, 16), nn.ReLU())
        self.head = nn.Linear(32, classes)

    def forward(self, image, vector):
        return self.head(torch.cat([self.image(image), self.vector(vector)], 1))


class TwoOutputs(nn.Module):
    """Multi-task: one trunk, a classification head and a regression head."""

    def __init__(self, classes: int = 6):
        super().__init__()
        self.trunk = nn.Sequential(zoo.conv_bn(1, 8, 3, 2), zoo.conv_bn(8, 16, 3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classify = nn.Linear(16, classes)
        self.regress = nn.Linear(16, 2)

    def forward(self, x):
        features = self.trunk(x)
        return self.classify(features), self.regress(features)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 layout at a width multiplier, written out (blocks with t=1 have no expansion)."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

    def __init__(self, width: float = 0.35, classes: int = 1000):
        super().__init__()
        cin = _divisible(32 * width)
        layers: list[nn.Module] = [zoo.conv_bn(3, cin, 3, 2, act=nn.ReLU6)]
        for t, c, n, s in self.SETTINGS:
            cout = _divisible(c * width)
            for i in range(n):
                layers.append(MobileNetV3Block(cin, cin * t, cout, 3, s if i == 0 else 1, False, nn.ReLU6))
                cin = cout
        last = _divisible(1280 * max(1.0, width))
        layers.append(zoo.conv_bn(cin, last, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x):
        return self.head(self.features(x))


def _divisible(value: float, divisor: int = 8) -> int:
    """torchvision's ``_make_divisible``: round to a multiple of 8, never more than 10 % down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclasses.dataclass(frozen=True)
class Family:
    build: Callable[[], nn.Module]
    inputs: tuple[tuple[int, ...], ...]  # example input shapes, batch 1
    value_range: tuple[float, float] = (0.0, 1.0)  # what random calibration/verification samples cover
    prunable: bool = False  # a CNN: the benchmark prunes it
    loss: str = "ce"  # "mse" for autoencoders
    randomise_bn: bool = True  # False: BatchNorm statistics stay as freshly initialised
    qdq: bool = False  # quantised by onnxruntime's quantize_static (QDQ format) after export


def _zoo(name: str) -> Callable[[], nn.Module]:
    return lambda: zoo.MODELS[name][0]()


FAMILIES: dict[str, Family] = {
    "cnn2d": Family(Cnn2d, ((1, 3, 32, 32),), prunable=True),
    "digits_cnn": Family(_zoo("digits_cnn"), ((1, 1, 8, 8),), prunable=True),
    "kws_cnn1d": Family(KwsCnn1d, ((1, 40, 49),), (-1.0, 1.0), prunable=True),
    "accel_cnn1d": Family(AccelCnn1d, ((1, 3, 128),), (-2.0, 2.0), prunable=True),
    "ecg_dscnn1d": Family(EcgDsCnn1d, ((1, 1, 256),), (-1.0, 1.0), prunable=True),
    "mobilenetv2": Family(_zoo("mobilenetv2"), ((1, 3, 32, 32),), prunable=True),
    "mobilenetv2_035_96": Family(MobileNetV2, ((1, 3, 96, 96),), prunable=True, randomise_bn=False),
    "mobilenetv3": Family(MobileNetV3Style, ((1, 3, 64, 64),), prunable=True),
    "efficientnet_lite": Family(EfficientNetLiteStyle, ((1, 3, 64, 64),), prunable=True),
    "resnet": Family(_zoo("resnet"), ((1, 3, 32, 32),), prunable=True),
    "inception": Family(_zoo("inception"), ((1, 3, 32, 32),), prunable=True),
    "densenet": Family(_zoo("densenet"), ((1, 3, 32, 32),), prunable=True),
    "dscnn": Family(DsCnn, ((1, 1, 49, 10),), (-1.0, 1.0), prunable=True),
    "mlp": Family(Mlp, ((1, 64),), (-1.0, 1.0)),
    "mlp_autoencoder": Family(MlpAutoencoder, ((1, 640),), (-1.0, 1.0), loss="mse"),
    "conv_autoencoder": Family(ConvAutoencoder, ((1, 1, 32, 32),), prunable=True, loss="mse"),
    "unet": Family(TinyUNet, ((1, 3, 32, 32),), prunable=True, loss="mse"),
    "lstm": Family(lambda: RecurrentClassifier("lstm"), ((1, 16, 8),), (-1.0, 1.0)),
    "gru": Family(lambda: RecurrentClassifier("gru"), ((1, 16, 8),), (-1.0, 1.0)),
    "transformer": Family(TinyTransformer, ((1, 16, 32),), (-1.0, 1.0)),
    "elu_cnn": Family(lambda: ActivationNet(nn.ELU), ((1, 1, 16, 16),), prunable=True),
    "gelu_cnn": Family(lambda: ActivationNet(nn.GELU), ((1, 1, 16, 16),), prunable=True),
    "two_inputs": Family(TwoInputs, ((1, 1, 16, 16), (1, 12)), prunable=True),
    "two_outputs": Family(TwoOutputs, ((1, 1, 16, 16),), prunable=True),
    "qdq_resnet": Family(_zoo("resnet"), ((1, 3, 32, 32),), qdq=True),
}

EXPORTERS = ("dynamo", "legacy")


def build(name: str, seed: int = 0) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """Family ``name`` in eval mode with example inputs; BatchNorm statistics randomised unless the family says not."""
    family = FAMILIES[name]
    torch.manual_seed(seed)
    module = family.build()
    if family.randomise_bn:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.2, 0.2)
    low, high = family.value_range
    examples = tuple(torch.rand(shape) * (high - low) + low for shape in family.inputs)
    return module.eval(), examples


def export(name: str, path: Path, exporter: str = "dynamo", seed: int = 0) -> Path:
    """Write family ``name`` as ONNX at ``path`` with torch's ``exporter`` ("dynamo": the default, opset 18+ with
    an external weights file; "legacy": ``dynamo=False``); a QDQ family is then quantised by onnxruntime."""
    if exporter not in EXPORTERS:
        raise ValueError(f"exporter {exporter!r}: expected one of {EXPORTERS}")
    module, examples = build(name, seed)
    names = [f"input{i}" if len(examples) > 1 else "input" for i in range(len(examples))]
    path = Path(path)
    float_path = path.with_name(path.stem + ".float.onnx") if FAMILIES[name].qdq else path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "dynamo":
            program = torch.onnx.export(module, examples, dynamo=True, input_names=names, verbose=False)
            program.save(str(float_path))
        else:
            torch.onnx.export(module, examples, str(float_path), dynamo=False, input_names=names)
    if FAMILIES[name].qdq:
        _quantize_qdq(float_path, path, FAMILIES[name], names)
    return path


def _quantize_qdq(source: Path, target: Path, family: Family, names: list[str], samples: int = 16) -> None:
    """onnxruntime ``quantize_static``: QDQ format, int8 activations, per-channel int8 weights."""
    import logging

    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)
    low, high = family.value_range
    feeds = iter([
        {n: rng.uniform(low, high, shape).astype(np.float32) for n, shape in zip(names, family.inputs, strict=True)}
        for _ in range(samples)
    ])

    class Reader(CalibrationDataReader):
        def get_next(self):
            return next(feeds, None)

    logging.disable(logging.WARNING)  # onnxruntime's "consider pre-processing" advice
    try:
        quantize_static(
            str(source), str(target), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        )
    finally:
        logging.disable(logging.NOTSET)
