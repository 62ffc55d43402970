"""The distillation teacher (``mcugraph/prune/teacher.py``): whatever it runs, it returns the module's logits."""

from __future__ import annotations

import torch
from torch import nn

import mcugraph
from mcugraph import zoo
from mcugraph.prune.api import canonicalize
from mcugraph.prune.teacher import Teacher
from mcugraph.prune.torch_module import GraphModule


def _module() -> GraphModule:
    torch.manual_seed(0)
    model = canonicalize(mcugraph.load(zoo.ResNetStyle(width=4).eval(), example_inputs=torch.rand(1, 3, 32, 32)))
    return GraphModule(model)


def test_teacher_returns_the_modules_logits_for_every_batch_shape():
    eager, teacher = _module().eval(), Teacher(_module())
    for batch in (8, 3, 8):  # a new shape is traced and timed on its first call; a known one reuses the choice
        x = torch.rand(batch, 3, 32, 32)
        with torch.no_grad():
            expected = eager(x)
        got = teacher(x)
        assert not got.requires_grad
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert set(teacher.chosen) == {((8, 3, 32, 32),), ((3, 3, 32, 32),)}


class _Untraceable(nn.Module):
    """Returns a dict: torch.jit.trace refuses it, so the teacher must fall back to the module itself."""

    def forward(self, x):
        return {"logits": x.sum((2, 3))}


def test_teacher_falls_back_to_the_module_when_tracing_fails():
    module = _Untraceable()
    teacher = Teacher(module)
    x = torch.rand(2, 3, 4, 4)
    assert torch.equal(teacher(x)["logits"], x.sum((2, 3)))
    assert teacher.chosen[((2, 3, 4, 4),)] is module


def test_distillation_is_derived_from_how_well_the_model_fits_the_training_set():
    import numpy as np

    from mcugraph.prune.api import Dataset, teacher_for
    from mcugraph.prune.config import TrainConfig
    from mcugraph.prune.recipe import DISTILL_ALPHA, STRONG_TEACHER

    module = _module().eval()
    x = torch.rand(40, 3, 32, 32)
    with torch.no_grad():
        own = module(x).argmax(1).numpy()
    fitted = Dataset(x.numpy(), own)  # the model's own answers: it fits them all
    wrong = Dataset(x.numpy(), (own + 1) % 10)  # it gets none right: a teacher of mistakes
    teacher, config, why = teacher_for(module, fitted, TrainConfig())
    assert config.distill == DISTILL_ALPHA and why["distill_derived"] and why["teacher_train_accuracy"] == 1.0
    with torch.no_grad():
        np.testing.assert_allclose(teacher, module(x).numpy(), rtol=1e-5, atol=1e-5)
    teacher, config, why = teacher_for(module, wrong, TrainConfig())
    assert teacher is None and config.distill == 0.0 and why["teacher_train_accuracy"] == 0.0
    # The threshold itself: right on exactly STRONG_TEACHER of the images distils, one image fewer does not.
    right = round(STRONG_TEACHER * len(own))
    for correct, alpha in ((right, DISTILL_ALPHA), (right - 1, 0.0)):
        labels = np.where(np.arange(len(own)) < correct, own, (own + 1) % 10)
        _, config, _ = teacher_for(module, Dataset(x.numpy(), labels), TrainConfig())
        assert config.distill == alpha, (correct, config.distill)
    # Given by the user, α is kept either way; 0 skips the teacher's forward altogether.
    teacher, config, why = teacher_for(module, wrong, TrainConfig(distill=0.5))
    assert config.distill == 0.5 and teacher is not None and not why["distill_derived"]
    teacher, config, why = teacher_for(module, fitted, TrainConfig(distill=0.0))
    assert teacher is None and config.distill == 0.0 and why["teacher_train_accuracy"] is None
    teacher, config, _ = teacher_for(module, fitted, TrainConfig(augment=lambda b: b))
    assert config.distill == DISTILL_ALPHA and callable(teacher)  # augmented views: run per batch
