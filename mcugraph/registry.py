"""Pass registry and pipeline strings, in the style of xDSL: ``fold-bn,fold-constants,remove-channels{keep=0.5}``.

A pass is an onnx-ir pass class (``InPlacePass``/``FunctionalPass``) that is a frozen dataclass with a class
attribute ``name`` (kebab-case) and typed fields as options. Any module in ``mcugraph/passes/`` is imported on first
use of the registry, and its classes decorated with :func:`register` become available by name — other compilers
may register their own passes the same way.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import typing

import onnx_ir as ir

from mcugraph.errors import PipelineError

_REGISTRY: dict[str, type[ir.passes.PassBase]] = {}
_DISCOVERED = False


def register(cls: type[ir.passes.PassBase]) -> type[ir.passes.PassBase]:
    """Class decorator: make ``cls`` available under ``cls.name`` in pipeline strings."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9-]*", name):
        raise TypeError(f"{cls.__name__}.name must be a kebab-case string, got {name!r}")
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass so that its options are typed")
    existing = _REGISTRY.get(name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"pass name '{name}' is taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[name] = cls
    return cls


def known_passes() -> dict[str, type[ir.passes.PassBase]]:
    """All registered passes by name (imports every module of ``mcugraph.passes`` once)."""
    global _DISCOVERED
    if not _DISCOVERED:
        import mcugraph.passes as package

        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{package.__name__}.{info.name}")
        _DISCOVERED = True
    return dict(sorted(_REGISTRY.items()))


_STEP = re.compile(r"\s*([a-z][a-z0-9-]*)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def parse_pipeline(spec: str) -> list[tuple[str, dict[str, str]]]:
    """``"a,b{k=v,x=y}"`` -> ``[("a", {}), ("b", {"k": "v", "x": "y"})]`` (option values still strings)."""
    steps: list[tuple[str, dict[str, str]]] = []
    pos = 0
    spec = spec.strip()
    while pos < len(spec):
        match = _STEP.match(spec, pos)
        if not match or match.end() == pos:
            raise PipelineError(
                f"cannot parse pipeline at character {pos}: {spec[pos:pos + 30]!r}; "
                "expected 'pass-name' or 'pass-name{option=value,...}' separated by commas"
            )
        options: dict[str, str] = {}
        for item in filter(None, (s.strip() for s in (match.group(2) or "").split(","))):
            key, eq, value = item.partition("=")
            if not eq:
                raise PipelineError(f"pass '{match.group(1)}': option '{item}' needs the form key=value")
            options[key.strip().replace("-", "_")] = value.strip()
        steps.append((match.group(1), options))
        pos = match.end()
    return steps


def create_pass(name: str, options: dict[str, typing.Any] | None = None) -> ir.passes.PassBase:
    """Instantiate the pass registered as ``name``; string option values are converted to the field types."""
    passes = known_passes()
    if name not in passes:
        raise PipelineError(f"unknown pass '{name}'; known passes: {', '.join(passes)}")
    cls = passes[name]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs = {}
    hints = typing.get_type_hints(cls)
    for key, raw in (options or {}).items():
        if key not in fields:
            known = ", ".join(fields) or "none"
            raise PipelineError(f"pass '{name}' has no option '{key}'; its options: {known}")
        kwargs[key] = _convert(raw, hints.get(key, str), name, key)
    return cls(**kwargs)


def _convert(raw: typing.Any, hint: typing.Any, pass_name: str, key: str) -> typing.Any:
    if not isinstance(raw, str):
        return raw
    target = next((t for t in typing.get_args(hint) if t is not type(None)), hint) if typing.get_args(hint) else hint
    try:
        if target is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        if target in (int, float):
            return target(raw)
    except ValueError as e:
        raise PipelineError(
            f"pass '{pass_name}': option {key}={raw!r} is not a valid {target.__name__}"
        ) from e
    return raw


def build_pipeline(spec: str) -> ir.passes.PassManager:
    """An onnx-ir ``PassManager`` running the passes of ``spec`` once each, in order."""
    steps = parse_pipeline(spec)
    if not steps:
        raise PipelineError(f"pipeline {spec!r} names no pass; give e.g. 'fold-constants,fold-bn' (see mcugraph passes)")
    return ir.passes.PassManager([create_pass(n, o) for n, o in steps], steps=1)


def pipeline_changes_outputs(spec: str) -> bool:
    """True when a pass of ``spec`` declares ``changes_outputs = True`` (e.g. ``remove-channels``).

    Canonicalisation passes keep the model's outputs; a pass that does not must say so, so that checks after the
    pipeline (like ``mcugraph opt``'s verification) compare against the rewritten model instead of the input.
    """
    passes = known_passes()
    return any(getattr(passes.get(name), "changes_outputs", False) for name, _ in parse_pipeline(spec))
