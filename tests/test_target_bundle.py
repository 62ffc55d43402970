"""The deployment bundle and the target package's pure parts: no toolchain or TFLM tree needed."""

from __future__ import annotations

import numpy as np
import pytest
from target_models import tiny_tflite

from mcugraph.errors import TargetError
from mcugraph.target import bundle, targets, tflm_tree
from mcugraph.target.elf_sizes import memory_split
from mcugraph.tflite import schema as tfl

METHODS = {"CONV_2D": ("AddConv2D", "Register_CONV_2D"), "MAX_POOL_2D": ("AddMaxPool2D", "Register_MAX_POOL_2D"),
           "RESHAPE": ("AddReshape", "Register_RESHAPE"),
           "FULLY_CONNECTED": ("AddFullyConnected", "Register_FULLY_CONNECTED"),
           "SOFTMAX": ("AddSoftmax", "Register_SOFTMAX")}


def test_model_spec_reads_operators_and_io():
    """The spec lists each builtin once and the input/output shapes, types and quantisation."""
    spec = bundle.model_spec(tiny_tflite())
    assert set(spec.builtins) >= {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert len(spec.builtins) == len(set(spec.builtins))
    assert spec.inputs[0].shape == (1, 8, 8, 1) and spec.inputs[0].dtype == np.int8
    assert spec.outputs[0].shape == (1, 10) and spec.outputs[0].scale > 0


def _with_custom_op(data: bytes) -> bytes:
    model = tfl.read(data)
    model.operatorCodes[0].builtinCode = tfl.schema.BuiltinOperator.CUSTOM
    model.operatorCodes[0].deprecatedBuiltinCode = tfl.schema.BuiltinOperator.CUSTOM
    model.operatorCodes[0].customCode = b"MyOp"
    return tfl.pack(model)


def test_custom_operator_is_refused_by_name():
    """A custom operator cannot be registered: the error names it."""
    with pytest.raises(TargetError, match="custom operator 'MyOp'"):
        bundle.model_spec(_with_custom_op(tiny_tflite()))


def test_operator_without_resolver_method_is_refused():
    """A builtin the tree's resolver has no Add method for is named in the error."""
    spec = bundle.model_spec(tiny_tflite())
    methods = {k: v for k, v in METHODS.items() if k != "SOFTMAX"}
    with pytest.raises(TargetError, match="no method for SOFTMAX"):
        bundle.resolver_calls(spec, methods)


def _hostile_names(data: bytes) -> bytes:
    model = tfl.read(data)
    for i, tensor in enumerate(model.subgraphs[0].tensors):
        tensor.name = f'x*/ #include "/etc/passwd"\n int evil{i}; /*'.encode()
    model.subgraphs[0].name = b"*/ system(\"rm -rf /\"); /*"
    return tfl.pack(model)


def test_bundle_writes_no_text_from_the_file(tmp_path):
    """Tensor and model names from an untrusted file never reach the C sources."""
    data = _hostile_names(tiny_tflite())
    spec = bundle.model_spec(data)
    calls = bundle.resolver_calls(spec, METHODS)
    out = bundle.write_bundle(tmp_path / "b", data, spec, calls, 4096, bundle.sample_inputs(spec), "note */ x")
    text = "".join(p.read_text() for p in out.iterdir())
    assert "passwd" not in text and "evil" not in text and "rm -rf" not in text
    assert "note * / x" in (out / "model_config.h").read_text()  # mcugraph's own note cannot close a comment
    config = (out / "model_config.h").read_text()
    assert "kTensorArenaSize = 4096;" in config and "kInput0Dims[] = {1, 8, 8, 1};" in config
    assert f"g_model_len = {len(data)};" in (out / "model_data.cc").read_text()


def test_model_array_holds_the_file_bytes(tmp_path):
    """The C array is the .tflite byte for byte, and the resolver registers exactly the model's operators."""
    data = tiny_tflite()
    spec = bundle.model_spec(data)
    out = bundle.write_bundle(tmp_path / "b", data, spec, bundle.resolver_calls(spec, METHODS), 4096,
                              bundle.sample_inputs(spec), "n")
    body = (out / "model_data.cc").read_text().split("{", 1)[1].split("}", 1)[0]
    assert bytes(int(x, 16) for x in body.replace("\n", "").split(",")) == data
    resolver = (out / "op_resolver.h").read_text()
    assert f"MicroMutableOpResolver<{len(spec.builtins)}>" in resolver
    assert resolver.count("resolver.Add") == len(spec.builtins)


def test_rewriting_a_bundle_replaces_it_whole(tmp_path):
    """A second write replaces the folder; a stale file from the first is gone."""
    data = tiny_tflite()
    spec = bundle.model_spec(data)
    calls = bundle.resolver_calls(spec, METHODS)
    out = bundle.write_bundle(tmp_path / "b", data, spec, calls, 4096, bundle.sample_inputs(spec), "n")
    (out / "stale.txt").write_text("old")
    bundle.write_bundle(tmp_path / "b", data, spec, calls, 8192, bundle.sample_inputs(spec), "n")
    assert not (out / "stale.txt").exists() and "= 8192;" in (out / "model_config.h").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # no temp folders left


def test_wrong_input_size_is_refused(tmp_path):
    """A sample of the wrong size for the model's input is an error, not a silently wrong bundle."""
    spec = bundle.model_spec(tiny_tflite())
    with pytest.raises(TargetError, match="needs 64"):
        bundle.write_inputs(tmp_path, spec, [np.zeros(10, np.int8)])


def test_sample_inputs_are_seeded():
    spec = bundle.model_spec(tiny_tflite())
    a, b, c = (bundle.sample_inputs(spec, s)[0] for s in (0, 0, 1))
    assert a.tobytes() == b.tobytes() != c.tobytes()


def test_unknown_target_and_kernels_are_refused():
    with pytest.raises(TargetError, match="unknown target 'cortex-m99'; choose one of"):
        targets.target("cortex-m99")
    with pytest.raises(TargetError, match="unknown kernel set"):
        targets.check_kernels("fast")


def test_every_target_says_whether_it_runs():
    """The help line names each target and whether it runs under QEMU, natively, or only builds."""
    text = targets.describe()
    for t in targets.TARGETS.values():
        assert t.name in text
    assert "builds only" in text and "runs on QEMU mps2-an386" in text


def test_missing_tree_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(tflm_tree.ROOT_ENV, raising=False)
    with pytest.raises(TargetError, match="pass --tflm-root DIR or set MCUGRAPH_TFLM_ROOT"):
        tflm_tree.find_tree(None)
    with pytest.raises(TargetError, match="not a TensorFlow Lite Micro tree"):
        tflm_tree.find_tree(tmp_path)


def test_missing_toolchain_names_the_packages(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(TargetError, match="apt-get install gcc-arm-none-eabi"):
        tflm_tree.toolchain_dir(targets.target("cortex-m4"))


def test_resolver_methods_are_read_from_the_header(tmp_path):
    """The Add method and registration per builtin come from the tree's micro_mutable_op_resolver.h."""
    header = tmp_path / tflm_tree.RESOLVER_HEADER
    header.parent.mkdir(parents=True)
    header.write_text("""
  TfLiteStatus AddConv2D(
      const TFLMRegistration& registration = Register_CONV_2D()) {
    return AddBuiltin(BuiltinOperator_CONV_2D, registration, ParseConv2D);
  }
  TfLiteStatus AddMean(const TFLMRegistration& registration = Register_MEAN()) {
    return AddBuiltin(BuiltinOperator_MEAN, registration, ParseReducer);
  }
""")
    tree = tflm_tree.TflmTree(tmp_path, tmp_path, "r")
    assert tflm_tree.resolver_methods(tree) == {"CONV_2D": ("AddConv2D", "Register_CONV_2D"),
                                                "MEAN": ("AddMean", "Register_MEAN")}


MAP = """Discarded input sections
 .text.unused   0x00000000       0x40 /cache/a.o

Linker script and memory map

.text           0x00000000     0x1000
 *(.isr_vector)
 .isr_vector    0x00000000       0x40 /b/startup.o
 .text._ZN6tflite14MicroAllocator4InitEv
                0x00000040      0x200 /cache/x_micro_allocator.o
 .text.arm_convolve_s8
                0x00000240      0x100 /cache/y_arm_convolve_s8.o
 .rodata.g_model
                0x00000340      0x400 /b/model_data.o
 *fill*         0x00000740        0x4
 .text.memcpy   0x00000744       0x20 /usr/lib/libc_nano.a(lib_a-memcpy.o)

.data           0x20000000       0x10 load address 0x00000764
 .data.x        0x20000000       0x10 /b/main.o

.bss            0x20000010     0x1010
 .bss._ZN12_GLOBAL__N_17g_arenaE
                0x20000010     0x1000 /b/main.o
 .bss.y         0x20001010       0x10 /cache/x_micro_allocator.o

.heap           0x20001020     0x2000
.stack          0x20003020     0x8000
"""


def test_memory_split_reads_the_map(tmp_path):
    """Flash and RAM by part, from what the linker kept (discarded sections do not count)."""
    path = tmp_path / "f.map"
    path.write_text(MAP)
    roles = {"/cache/x_micro_allocator.o": "tflm", "/cache/y_arm_convolve_s8.o": "cmsis-nn",
             "/b/model_data.o": "model", "/b/startup.o": "application", "/b/main.o": "application"}
    split = memory_split(path, lambda p: roles.get(p, "runtime"))
    assert split.flash == {"application": 0x40 + 0x10, "tflm": 0x200, "cmsis-nn": 0x100, "model": 0x400,
                           "runtime": 0x4 + 0x20}
    assert split.ram == {"arena": 0x1000, "stack": 0x8000, "heap": 0x2000, "profiler": 0, "other": 0x20}


def _bench_json(tmp_path, data: bytes, sha: str | None = None):
    import hashlib
    import json

    ops = [{"index": i, "op": op, "instructions": 1000 * (i + 1)}
           for i, op in enumerate(tfl.builtin_name(tfl.opcode_builtin(tfl.read(data).operatorCodes[o.opcodeIndex]))
                                  for o in tfl.read(data).subgraphs[0].operators)]
    bench = {"model_sha256": sha or hashlib.sha256(data).hexdigest(), "operators": ops,
             "instructions": sum(o["instructions"] for o in ops) + 7, "target": "cortex-m4", "kernels": "reference",
             "arena_bytes": 1536, "flash_bytes": 99_000, "flash": {"model": len(data), "tflm": 90_000},
             "outputs_match_host": True}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench))
    return path, ops


def test_analyze_joins_a_bench_json_onto_the_tflite(tmp_path, capsys):
    """analyze --bench: each operator's measured instructions in the table and the JSON, the chip's totals below."""
    import json

    from mcugraph.cli.main import main

    data = tiny_tflite()
    model = tmp_path / "tiny.tflite"
    model.write_bytes(data)
    bench, ops = _bench_json(tmp_path, data)
    assert main(["analyze", str(model), "--bench", str(bench)]) == 0
    out = capsys.readouterr().out
    assert "instructions" in out.splitlines()[0] and f"{ops[-1]['instructions']:,}" in out
    assert "on cortex-m4 (reference kernels, QEMU)" in out and "not cycles" in out
    assert main(["analyze", str(model), "--bench", str(bench), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["ops"]
    assert [r["instructions"] for r in rows] == [o["instructions"] for o in ops]


def test_bench_json_of_another_file_or_an_onnx_model_is_refused(tmp_path, capsys):
    from mcugraph.cli.main import main

    data = tiny_tflite()
    model = tmp_path / "tiny.tflite"
    model.write_bytes(data)
    bench, _ = _bench_json(tmp_path, data, sha="0" * 64)
    assert main(["analyze", str(model), "--bench", str(bench)]) == 2
    assert "of another file" in capsys.readouterr().err
    onnx_path = tmp_path / "m.onnx"
    import onnx

    from mcugraph import zoo

    onnx.save(zoo.onnx_model("digits_cnn"), onnx_path)
    assert main(["analyze", str(onnx_path), "--bench", str(bench)]) == 2
    assert "joins measurements onto a .tflite" in capsys.readouterr().err


def test_report_page_shows_measured_instructions_and_runtime(tmp_path):
    from mcugraph.cli.main import main

    data = tiny_tflite()
    model = tmp_path / "tiny.tflite"
    model.write_bytes(data)
    bench, ops = _bench_json(tmp_path, data)
    page = tmp_path / "r.html"
    assert main(["report", str(model), "-o", str(page), "--bench", str(bench)]) == 0
    html = page.read_text()
    assert "instructions (cortex-m4, reference, QEMU)" in html and f"{ops[-1]['instructions']:,}" in html
    assert "90,000" in html  # the runtime joins the flash bill


def test_output_comparison_says_whether_a_difference_is_float():
    """Integer outputs must match the host exactly; a float difference is marked so bench reports, not refuses."""
    from mcugraph.target.bench import _compare

    assert _compare([np.array([1, 2], np.int8)], [np.array([1, 2], np.int8)]) == []
    [int8] = _compare([np.array([1, 2], np.int8)], [np.array([1, 3], np.int8)])
    assert int8 == {"output": 0, "elements": 1, "of": 2, "max_abs_diff": 1.0, "float": False}
    [f32] = _compare([np.array([1.0, 2.0], np.float32)], [np.array([1.0, 2.00001], np.float32)])
    assert f32["float"] and 0 < f32["max_abs_diff"] < 1e-4
