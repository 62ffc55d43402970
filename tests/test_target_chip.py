"""On the chip: a tiny int8 CNN built into firmware with TFLM and run under QEMU (and natively for the host).

These need the Arm toolchain, qemu-system-arm and a TFLM tree (``$MCUGRAPH_TFLM_ROOT``, else the shared copy in
``../shared/third_party``); they skip without them, unless ``MCUGRAPH_REQUIRE_TOOLCHAIN=1`` (CI sets it after
installing them), where a missing piece fails. The first run compiles TFLM for each target and kernel set into
the cache (minutes); later runs only compile the bundle and link.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from target_models import tiny_tflite

from mcugraph.cli.main import main
from mcugraph.errors import TargetError
from mcugraph.target import build, bundle, qemu, tflm_tree
from mcugraph.target.bench import bench, prepare

SHARED_TFLM = Path(__file__).resolve().parents[1].parent / "shared" / "third_party" / "tflite-micro"

# One xdist worker builds and runs them all: two would compile the same TFLM objects side by side.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chip")]


@pytest.fixture(scope="module")
def tflm_root() -> str:
    root = os.environ.get(tflm_tree.ROOT_ENV) or (str(SHARED_TFLM) if SHARED_TFLM.is_dir() else None)
    missing = [tool for tool in ("arm-none-eabi-g++", "qemu-system-arm", "make") if not shutil.which(tool)]
    if root is None:
        missing.append("a TFLM tree")
    if missing:
        if os.environ.get("MCUGRAPH_REQUIRE_TOOLCHAIN") == "1":
            pytest.fail(f"MCUGRAPH_REQUIRE_TOOLCHAIN=1 but {', '.join(missing)} missing")
        pytest.skip(f"no {', '.join(missing)}")
    return root


@pytest.mark.parametrize("kernels", ["reference", "cmsis-nn"])
def test_cortex_m4_output_equals_host_and_arena_is_confirmed(tflm_root, kernels):
    """On the M4, reference and CMSIS-NN kernels give the host interpreter's bytes; the arena constant (the
    smallest multiple of 16 that allocates, never below what TFLM reports using) is enough for a second run;
    instructions and flash are measured."""
    data = tiny_tflite()
    r = bench(data, "cortex-m4", kernels, tflm_root, source="tiny.tflite")
    assert r.outputs_match_host, r.output_mismatch  # TFLM promises CMSIS-NN int8 kernels bit-exact with reference
    assert r.arena_bytes % 16 == 0 and r.arena_bytes >= r.arena_used_bytes
    assert r.instructions_per_tick == 40.0  # the MPS2 boards' 25 MHz core clock under -icount shift=0
    assert r.instructions > 0 and sum(o.instructions for o in r.operators) <= r.instructions
    assert [o.op for o in r.operators][0] == "CONV_2D" and len(r.operators) == bundle.model_spec(data).operator_count
    assert r.flash["model"] == len(data) and r.flash["tflm"] > 10_000
    assert ("cmsis-nn" in r.flash) == (kernels == "cmsis-nn")
    assert r.ram["arena"] == r.arena_bytes and 0 < r.stack_used_bytes < r.ram["stack"]
    parts = r.arena_parts  # the recording allocator's split: its allocator objects make the tail a little larger
    assert parts["head"] + parts["tail"] >= r.arena_used_bytes and parts["eval_tensors"] > 0
    assert parts["node_and_registration"] > 0 and parts["tail"] > parts["eval_tensors"] + parts["persistent_buffers"]


def test_cmsis_nn_runs_fewer_instructions_than_reference(tflm_root):
    """The optimised kernels are the point of CMSIS-NN: on the same model and core, fewer instructions."""
    data = tiny_tflite()
    ref = bench(data, "cortex-m4", "reference", tflm_root)
    fast = bench(data, "cortex-m4", "cmsis-nn", tflm_root)
    conv = next(i for i, o in enumerate(ref.operators) if o.op == "CONV_2D")
    assert fast.operators[conv].instructions < ref.operators[conv].instructions


def test_bundle_compiles_with_werror_for_the_host_and_runs_natively(tflm_root, tmp_path, capsys):
    """`mcugraph firmware --target host`: the bundle builds with -Wall -Wextra -Werror on this machine and gives
    the host interpreter's bytes without an emulator."""
    path = _tiny_file(tmp_path)
    out = tmp_path / "bundle"
    assert main(["firmware", str(path), "-o", str(out), "--target", "host", "--kernels", "reference",
                 "--tflm-root", tflm_root]) == 0
    assert "confirmed by a run with exactly that arena" in capsys.readouterr().out
    assert {"main.cc", "model_data.cc", "model_config.h", "op_resolver.h", "platform_host.cc"} <= {
        p.name for p in out.iterdir()}


def test_build_only_target_says_its_arena_is_an_estimate(tflm_root, tmp_path, capsys):
    """A core no board runs here (M33) still builds; the bundle's arena is marked an estimate, not measured."""
    path = _tiny_file(tmp_path)
    out = tmp_path / "m33"
    assert main(["firmware", str(path), "-o", str(out), "--target", "cortex-m33", "--kernels", "reference",
                 "--tflm-root", tflm_root]) == 0
    assert "is an estimate" in capsys.readouterr().out
    assert "ESTIMATE" in (out / "model_config.h").read_text()
    assert main(["bench", str(path), "--target", "cortex-m33", "--tflm-root", tflm_root]) == 2


def _tiny_file(tmp_path) -> Path:
    path = tmp_path / "tiny.tflite"
    path.write_bytes(tiny_tflite())
    return path


def _firmware(tflm_root, tmp_path, arena_bytes=None, break_main=False):
    data = tiny_tflite()
    target, tree, spec, calls, registrations = prepare(data, tflm_root, "cortex-m4", "reference", "tiny")
    out = bundle.write_bundle(tmp_path / "b", data, spec, calls, 1 << 16, bundle.sample_inputs(spec), "t")
    if break_main:
        (out / "main.cc").write_text((out / "main.cc").read_text() + "\nint broken = ;\n")
    recipe = tflm_tree.recipe(tree, target, "reference")
    return target, build.build_firmware(tree, target, recipe, out, registrations, tmp_path / "build", arena_bytes)


def test_the_arena_constant_is_the_smallest_that_allocates(tflm_root, tmp_path):
    """16 bytes below bench's kTensorArenaSize the firmware fails in AllocateTensors, and says so: the error."""
    r = bench(tiny_tflite(), "cortex-m4", "reference", tflm_root)
    target, firmware = _firmware(tflm_root, tmp_path, arena_bytes=r.arena_bytes - 16)
    with pytest.raises(TargetError, match="AllocateTensors"):
        qemu.run_firmware(target, firmware.elf)


def test_a_run_past_its_limit_is_stopped(tflm_root, tmp_path):
    target, firmware = _firmware(tflm_root, tmp_path)
    with pytest.raises(TargetError, match="did not finish within"):
        qemu.run_firmware(target, firmware.elf, timeout_s=0.001)


def test_build_error_names_the_file_and_leaves_no_firmware(tflm_root, tmp_path):
    with pytest.raises(TargetError, match="build error compiling main.cc"):
        _firmware(tflm_root, tmp_path, break_main=True)
    assert not (tmp_path / "build" / "firmware.elf").exists()


def test_cli_errors_are_one_line_exit_2(tflm_root, tmp_path, capsys):
    path = _tiny_file(tmp_path)
    assert main(["bench", str(path), "--target", "cortex-m99", "--tflm-root", tflm_root]) == 2
    assert main(["bench", str(path), "--tflm-root", str(tmp_path)]) == 2
    assert main(["bench", str(path), "--target", "host", "--kernels", "cmsis-nn", "--tflm-root", tflm_root]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("mcugraph bench: error: ") for line in err)
    assert not list(tmp_path.glob("*.json"))


def _tiny_onnx(tmp_path) -> Path:
    import onnx
    import torch
    from target_models import TinyCNN

    from mcugraph import zoo

    torch.manual_seed(0)
    path = tmp_path / "tiny.onnx"
    onnx.save(zoo.export(TinyCNN().eval(), torch.rand(1, 1, 8, 8)), path)
    return path


def test_opt_emit_c_writes_the_bundle_of_the_file_it_exported(tflm_root, tmp_path, capsys):
    """opt --emit-c DIR: the bundle's model array is the .tflite opt wrote, its arena measured on the target."""
    onnx_path = _tiny_onnx(tmp_path)
    out, bundle_dir = tmp_path / "tiny.tflite", tmp_path / "c"
    assert main(["opt", str(onnx_path), "-o", str(out), "--calib", "random:0,1,16", "--emit-c", str(bundle_dir),
                 "--target", "host", "--kernels", "reference", "--tflm-root", tflm_root]) == 0
    assert "kTensorArenaSize" in capsys.readouterr().out
    assert f"g_model_len = {out.stat().st_size};" in (bundle_dir / "model_data.cc").read_text()


def test_opt_emit_c_without_a_tree_fails_before_writing(tmp_path, capsys, monkeypatch):
    """No TFLM tree: opt --emit-c says so in one line and writes neither the .tflite nor the bundle."""
    monkeypatch.delenv(tflm_tree.ROOT_ENV, raising=False)
    onnx_path = _tiny_onnx(tmp_path)
    assert main(["opt", str(onnx_path), "-o", str(tmp_path / "t.tflite"), "--calib", "random:0,1,16",
                 "--emit-c", str(tmp_path / "c")]) == 2
    assert "no TensorFlow Lite Micro tree" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]
