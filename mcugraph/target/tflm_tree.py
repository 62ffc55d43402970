"""The user's TensorFlow Lite Micro tree, and what its own Makefile says a build for a target consists of.

mcugraph does not keep a copy of TFLM's build rules: it asks the Makefile of the tree it is pointed at
(``list_library_sources``, ``list_third_party_sources`` and a dry run of one compile, ``make -n``) for the
sources and flags of a target and kernel set, then compiles them itself so that only the operators a model uses
are built. The tree is never written: generated files go to the cache. ``downloads/`` (flatbuffers, gemmlowp,
CMSIS, CMSIS-NN, ...) is the tree's own ``tensorflow/lite/micro/tools/make/downloads`` or a ``tflm-downloads``
folder beside the tree.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from mcugraph.errors import TargetError
from mcugraph.target.targets import Target

ROOT_ENV = "MCUGRAPH_TFLM_ROOT"
CACHE_ENV = "MCUGRAPH_CACHE"
MAKEFILE = "tensorflow/lite/micro/tools/make/Makefile"
RESOLVER_HEADER = "tensorflow/lite/micro/micro_mutable_op_resolver.h"
KERNELS_DIR = "tensorflow/lite/micro/kernels/"
RECIPE_FORMAT = 2  # what mcugraph reads from the Makefile changed: cached recipes of another format are re-read


@dataclasses.dataclass(frozen=True)
class TflmTree:
    root: Path
    downloads: Path
    revision: str  # git commit, or a digest of the files' sizes and times when the tree is not a checkout


def find_tree(root: str | os.PathLike | None = None) -> TflmTree:
    """The TFLM tree at ``root`` (else ``$MCUGRAPH_TFLM_ROOT``), checked to be one, with its downloads."""
    given = root if root is not None else os.environ.get(ROOT_ENV)
    if not given:
        raise TargetError(f"no TensorFlow Lite Micro tree: pass --tflm-root DIR or set {ROOT_ENV} to a "
                          "tflite-micro checkout (with its Makefile's downloads/ fetched)")
    path = Path(given).expanduser().resolve()
    if not (path / MAKEFILE).is_file():
        raise TargetError(f"{path}: not a TensorFlow Lite Micro tree (no {MAKEFILE}); pass --tflm-root the "
                          "folder that holds tensorflow/lite/micro")
    candidates = [path / "tensorflow/lite/micro/tools/make/downloads", path.parent / "tflm-downloads"]
    downloads = next((c for c in candidates if (c / "flatbuffers").is_dir()), None)
    if downloads is None:
        raise TargetError(f"{path}: TFLM's third-party downloads (flatbuffers, gemmlowp, CMSIS, CMSIS-NN) are in "
                          f"neither {candidates[0]} nor {candidates[1]}; fetch them once with TFLM's Makefile "
                          "(make -f tensorflow/lite/micro/tools/make/Makefile third_party_downloads)")
    return TflmTree(path, downloads.resolve(), _revision(path, downloads))


@functools.cache  # a digest walks thousands of files; prepare, bench and opt --emit-c each ask for the tree
def _revision(root: Path, downloads: Path) -> str:
    if (root / ".git").exists() and shutil.which("git"):
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"], capture_output=True,
                                   text=True).stdout
            if not dirty.strip():
                return out.stdout.strip()
    digest = hashlib.sha256()
    for top in (root / "tensorflow", root / "signal", downloads):
        for dirpath, _, files in sorted(os.walk(top)):
            for name in sorted(files):
                st = os.stat(os.path.join(dirpath, name))
                digest.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return "files-" + digest.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "mcugraph")
    return Path(base).expanduser()


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How TFLM's Makefile builds the library for one target and kernel set."""

    key: str  # names the object cache: tree revision, target, kernels and flags
    cxx: str
    cc: str
    cxx_flags: tuple[str, ...]
    c_flags: tuple[str, ...]
    framework: tuple[str, ...]  # always compiled (the interpreter, allocator, planner, kernel helpers)
    third_party: dict[str, str]  # CMSIS-NN function -> the C source defining it (cmsis-nn kernels, else empty)
    registrations: dict[str, str]  # Register_X -> the kernel source that defines it

    @property
    def link_flags(self) -> tuple[str, ...]:
        return tuple(f for f in self.cxx_flags if f.startswith(("-mcpu", "-mfpu", "-mfloat-abi", "-mthumb", "-m32")))


def recipe(tree: TflmTree, target: Target, kernels: str) -> Recipe:
    """The build recipe, read from the tree's Makefile once and cached as JSON."""
    base = f"{RECIPE_FORMAT}|{tree.revision}|{target.tflm_target}|{target.tflm_arch}|{kernels}"
    path = cache_root() / "recipes" / (hashlib.sha256(base.encode()).hexdigest()[:16] + ".json")
    if path.is_file():
        return Recipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(path.read_text()).items()})
    made = _read_makefile(tree, target, kernels)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(made), indent=1))
    os.replace(tmp, path)
    return made


def _make(tree: TflmTree, target: Target, kernels: str, toolchain: str, *goal: str) -> str:
    gen = cache_root() / "gen" / hashlib.sha256(str(tree.root).encode()).hexdigest()[:12]
    args = ["make", "-s", "-f", MAKEFILE, f"DOWNLOADS_DIR={tree.downloads}", f"BASE_GENDIR={gen}"]
    if not target.is_host:
        args += [f"TARGET={target.tflm_target}", f"TARGET_ARCH={target.tflm_arch}",
                 f"TARGET_TOOLCHAIN_ROOT={toolchain}/"]
    if kernels == "cmsis-nn":
        args.append("OPTIMIZED_KERNEL_DIR=cmsis_nn")
    # The Makefile runs code generators with `python3`, which must have numpy and Pillow: ours has.
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    try:
        out = subprocess.run(args + list(goal), cwd=tree.root, capture_output=True, text=True, env=env, timeout=300)
    except FileNotFoundError as e:
        raise TargetError("`make` is not installed; install it (apt-get install make)") from e
    except subprocess.TimeoutExpired as e:
        raise TargetError(f"{tree.root}: TFLM's Makefile did not answer in 300 s ({' '.join(goal)})") from e
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"{tree.root}: TFLM's Makefile failed for {target.name} ({' '.join(goal)}): {last}")
    return out.stdout


def toolchain_dir(target: Target) -> str:
    compiler = "g++" if target.is_host else "arm-none-eabi-g++"
    found = shutil.which(compiler)
    if not found:
        raise TargetError(f"{compiler} not found: install the Arm GNU toolchain (apt-get install gcc-arm-none-eabi "
                          "libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib)" if not target.is_host else
                          f"{compiler} not found: install a host C++ compiler (apt-get install g++)")
    return os.path.dirname(found)


def _read_makefile(tree: TflmTree, target: Target, kernels: str) -> Recipe:
    tools = toolchain_dir(target)
    library = _make(tree, target, kernels, tools, "list_library_sources").split()
    third = _make(tree, target, kernels, tools, "list_third_party_sources").split()
    dry = _make(tree, target, kernels, tools, "-n", "microlite").splitlines()
    cxx, cxx_flags = _compile_line(dry, ".cc", tree)
    c_lines = [line for line in dry if re.search(r"\s-c\s+\S+\.c\s", line)]
    cc, c_flags = _compile_line(c_lines, ".c", tree) if c_lines else (cxx.replace("g++", "gcc"), cxx_flags)

    def own(path: str) -> str:  # the Makefile names downloads by its DOWNLOADS_DIR
        return str(Path(path).resolve()) if os.path.isabs(path) else path

    sources = [own(s) for s in library if s.endswith((".cc", ".c")) and not s.startswith("signal/")]
    registrations: dict[str, str] = {}
    framework = []
    for source in sources:
        defined = _registrations(tree.root / source) if source.startswith(KERNELS_DIR) else []
        for name in defined:
            registrations.setdefault(name, source)
        if not defined and not source.endswith("micro_time.cc") and not _TEST_ONLY.search(source):
            framework.append(source)
    if target.is_host:
        framework += [s for s in sources if s.endswith("micro_time.cc")]
    third_party: dict[str, str] = {}
    for source in (own(s) for s in third if s.endswith(".c") and "cmsis_nn" in s):
        for name in _C_DEFINITION.findall(Path(source).read_text(errors="replace")):
            third_party.setdefault(name, source)
    key_text = json.dumps([tree.revision, target.name, kernels, cxx, cxx_flags, c_flags])
    return Recipe(hashlib.sha256(key_text.encode()).hexdigest()[:16], cxx, cc, tuple(cxx_flags), tuple(c_flags),
                  tuple(framework), third_party, registrations)


def _compile_line(lines: list[str], suffix: str, tree: TflmTree) -> tuple[str, list[str]]:
    for line in lines:
        words = shlex.split(line)
        if "-c" in words and any(w.endswith(suffix) for w in words) and "-o" in words:
            start = words.index("-c")
            flags = [w for w in words[1:start] if w not in ("-MD",)]
            flags = [f"-I{tree.root}" if f == "-I." else f for f in flags]
            return words[0], flags
    raise TargetError(f"{tree.root}: TFLM's Makefile printed no {suffix} compile command for `make -n microlite`; "
                      "is this a TFLM tree of a supported revision?")


# Sources the library lists that only TFLM's tests use: never linked into firmware. (The recording allocator is
# kept: bench's probe firmware uses it to split the arena by kind.)
_TEST_ONLY = re.compile(r"(test_helper|mock_micro_graph|fake_micro_context|kernel_runner)[^/]*\.cc$")
# A CMSIS-NN function definition: its return type and name at column 0 (the library's one style).
_C_DEFINITION = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(arm_\w+)\s*\([^;]*?\)\s*\{", re.M)

_REGISTRATION = re.compile(r"^TFLMRegistration\*?\s+(Register_\w+)\s*\(\s*\)\s*\{", re.M)


def _registrations(path: Path) -> list[str]:
    return _REGISTRATION.findall(path.read_text(errors="replace"))


_RESOLVER_METHOD = re.compile(
    r"TfLiteStatus\s+(Add\w+)\(\s*const TFLMRegistration& registration\s*=\s*"
    r"(?:tflite::)?(?:\*\s*)?(?:tflite::)?(Register_\w+)\(\)\s*\)\s*\{\s*return AddBuiltin\(\s*BuiltinOperator_(\w+)",
)


def resolver_methods(tree: TflmTree) -> dict[str, tuple[str, str]]:
    """Builtin op name -> (MicroMutableOpResolver method, its default registration), from the tree's header."""
    text = (tree.root / RESOLVER_HEADER).read_text()
    return {builtin: (method, register) for method, register, builtin in _RESOLVER_METHOD.findall(text)}
