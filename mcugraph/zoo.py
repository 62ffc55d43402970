"""Small models in the styles that matter on microcontrollers, built in torch (no torchvision here).

They are the project's own test and benchmark models: MobileNetV2-style (inverted residuals, depthwise, ReLU6,
residual Add), ResNet-style (BatchNorm, residual Add), Inception-style (parallel branches, Concat), DenseNet-style
(growing Concat) and the ~50k-parameter digits CNN of the README's main job. ``export`` turns any of them into ONNX.
"""

from __future__ import annotations

import io
import warnings

import onnx
import torch
from torch import nn


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: type = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, hidden, 1, act=nn.ReLU6),
            conv_bn(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            conv_bn(hidden, cout, 1, act=None),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.use_residual else y


class MobileNetV2Style(nn.Module):
    """Inverted residuals. ``stem_stride=1`` is the CIFAR variant (32x32 inputs keep their resolution in the stem,
    as MobileNetV2 on CIFAR is usually built); 2 is ImageNet's."""

    def __init__(self, num_classes: int = 10, width: int = 8, expand: int = 4, stem_stride: int = 2):
        super().__init__()
        w, e = width, expand
        self.features = nn.Sequential(
            conv_bn(3, w, 3, stem_stride, act=nn.ReLU6),
            InvertedResidual(w, w, 1, 1),
            InvertedResidual(w, 2 * w, 2, e),
            InvertedResidual(2 * w, 2 * w, 1, e),
            InvertedResidual(2 * w, 3 * w, 2, e),
            InvertedResidual(3 * w, 3 * w, 1, e),
            conv_bn(3 * w, 8 * w, 1, act=nn.ReLU6),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, inner: int | None = None):
        super().__init__()
        inner = cout if inner is None else inner  # the width between the two convs (a pruned block's own)
        self.body = nn.Sequential(conv_bn(cin, inner, 3, stride), conv_bn(inner, cout, 3, act=None))
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else conv_bn(cin, cout, 1, stride, act=None)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + self.shortcut(x))


class ResNetStyle(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 8):
        super().__init__()
        w = width
        self.stem = conv_bn(3, w, 3)
        self.layers = nn.Sequential(BasicBlock(w, w, 1), BasicBlock(w, 2 * w, 2), BasicBlock(2 * w, 4 * w, 2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(self.stem(x)))


class InceptionBlock(nn.Module):
    def __init__(self, cin: int, b1: int, b3: int, b5: int, bp: int):
        super().__init__()
        self.b1 = conv_bn(cin, b1, 1)
        self.b3 = nn.Sequential(conv_bn(cin, b3, 1), conv_bn(b3, b3, 3))
        self.b5 = nn.Sequential(conv_bn(cin, b5, 1), conv_bn(b5, b5, 3), conv_bn(b5, b5, 3))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), conv_bn(cin, bp, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class InceptionStyle(nn.Module):
    def __init__(self, num_classes: int = 10, width: int = 8):
        super().__init__()
        w = width
        self.stem = nn.Sequential(conv_bn(3, 2 * w, 3, 2))
        self.block1 = InceptionBlock(2 * w, w, w, w // 2, w // 2)
        self.pool = nn.MaxPool2d(2)
        self.block2 = InceptionBlock(3 * w, w, 2 * w, w // 2, w // 2)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.pool(self.block1(self.stem(x)))))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, 2 * growth, 1), conv_bn(2 * growth, growth, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseNetStyle(nn.Module):
    def __init__(self, num_classes: int = 10, growth: int = 6, layers: int = 3):
        super().__init__()
        c = 2 * growth
        blocks: list[nn.Module] = [conv_bn(3, c, 3, 2)]
        for _ in range(layers):
            blocks.append(DenseLayer(c, growth))
            c += growth
        blocks += [conv_bn(c, c // 2, 1), nn.AvgPool2d(2)]
        c //= 2
        for _ in range(layers):
            blocks.append(DenseLayer(c, growth))
            c += growth
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class DigitsCNN(nn.Module):
    """The README's default model: ~55k parameters for 8x8 digits, big enough that pruning has work to do."""

    def __init__(self, num_classes: int = 10, width: int = 32):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            conv_bn(1, w, 3),
            conv_bn(w, 2 * w, 3),
            nn.MaxPool2d(2),
            conv_bn(2 * w, 2 * w, 3),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FourConvCNN(nn.Module):
    """A digits CNN shaped unlike :class:`DigitsCNN` (4 convs 32/48/64/64, ~80 KB of int8 weights): the pruning
    acceptance model, so the defaults are not tuned to the README's model."""

    def __init__(self, widths: tuple[int, int, int, int] = (32, 48, 64, 64)):
        super().__init__()
        a, b, c, d = widths
        self.features = nn.Sequential(conv_bn(1, a), conv_bn(a, b), nn.MaxPool2d(2), conv_bn(b, c), conv_bn(c, d))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(d, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# name -> (constructor, example input shape)
MODELS = {
    "mobilenetv2": (MobileNetV2Style, (1, 3, 32, 32)),
    "resnet": (ResNetStyle, (1, 3, 32, 32)),
    "inception": (InceptionStyle, (1, 3, 32, 32)),
    "densenet": (DenseNetStyle, (1, 3, 32, 32)),
    "digits_cnn": (DigitsCNN, (1, 1, 8, 8)),
}


def build(name: str, seed: int = 0) -> tuple[nn.Module, torch.Tensor]:
    """A freshly initialised model (BatchNorm statistics randomised so folding is really tested) and an input."""
    ctor, shape = MODELS[name]
    torch.manual_seed(seed)
    module = ctor()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    return module.eval(), torch.rand(shape)


def export(module: nn.Module, example: torch.Tensor, keep_batchnorm: bool = True, dynamic_batch: bool = False) -> onnx.ModelProto:
    """ONNX (opset 17) of ``module``; BatchNormalization nodes kept by default so canonicalisation has work."""
    buf = io.BytesIO()
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buf, dynamo=False, opset_version=17,
            input_names=["input"], output_names=["output"],
            training=torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL,
            do_constant_folding=not keep_batchnorm,
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}} if dynamic_batch else None,
        )
    return onnx.ModelProto.FromString(buf.getvalue())


def onnx_model(name: str, seed: int = 0, keep_batchnorm: bool = True) -> onnx.ModelProto:
    module, example = build(name, seed)
    return export(module, example, keep_batchnorm=keep_batchnorm)
