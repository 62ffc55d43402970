"""docs/passes.md: its example pass, usage and test code run as written, so the page cannot rot."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from mcugraph import registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "passes.md"


@pytest.fixture
def doc_namespace():
    """Run the page's Python blocks in one namespace; unregister the example pass afterwards."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    module = types.ModuleType("docs_passes_example")  # dataclasses look their module up in sys.modules
    sys.modules[module.__name__] = module
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), module.__dict__)  # noqa: S102 - our own documentation
        yield module.__dict__
    finally:
        registry._REGISTRY.pop("remove-mul-by-one", None)
        del sys.modules[module.__name__]


def test_doc_example_runs_and_registers(doc_namespace):
    """The example pass registers under its name and the usage block's assertions hold."""
    assert registry.known_passes()["remove-mul-by-one"] is doc_namespace["RemoveMulByOnePass"]
    assert doc_namespace["result"].modified


def test_doc_test_functions_pass(doc_namespace):
    """Every test function the page shows passes."""
    tests = [fn for name, fn in doc_namespace.items() if name.startswith("test_") and callable(fn)]
    assert tests
    for test in tests:
        test()


def test_doc_example_option_from_pipeline_string(doc_namespace):
    """The option shown in the page's pipeline string parses into the typed field."""
    assert registry.create_pass("remove-mul-by-one", {"max_elements": "64"}).max_elements == 64
