"""Liveness, peak memory and in-place pairs on tiny hand-built kernel graphs (TFLM's rules, 16-byte rounding)."""

from __future__ import annotations

import pytest

from mcugraph.errors import InvalidModelError
from mcugraph.kernel_graph import Kernel, KernelGraph, TensorInfo
from mcugraph.memory.inplace import INPLACE_OPS, arena_bytes
from mcugraph.memory.liveness import lifetimes
from mcugraph.memory.peak import inplace_pairs, peak_memory


def r16(n: int) -> int:
    return -(-n // 16) * 16


def graph(tensors: dict[str, tuple], kernels: list[tuple], inputs=("x",), outputs=None) -> KernelGraph:
    """tensors: name -> shape (or (shape, constant)); kernels: (name, op, inputs, outputs)."""
    infos = {}
    for name, spec in tensors.items():
        shape, constant = (spec, False) if not spec or isinstance(spec[0], int) else spec
        infos[name] = TensorInfo(name, tuple(shape), 1, constant)
    ks = tuple(Kernel(n, op, tuple(i), tuple(o)) for n, op, i, o in kernels)
    return KernelGraph(infos, ks, tuple(inputs), tuple(outputs or ks[-1].outputs))


def chain() -> KernelGraph:
    # x: 300 B -> conv -> a: 800 B -> conv -> y: 50 B
    return graph(
        {"x": (1, 10, 10, 3), "w": ((3, 3), True), "a": (1, 10, 10, 8), "y": (1, 50)},
        [("c1", "CONV_2D", ["x", "w"], ["a"]), ("c2", "CONV_2D", ["a", "w"], ["y"])],
    )


def residual() -> KernelGraph:
    # x -> conv -> y; add(x, y) -> z: all 1x8x8x4 = 256 B
    return graph(
        {"x": (1, 8, 8, 4), "w": ((4, 4), True), "y": (1, 8, 8, 4), "z": (1, 8, 8, 4)},
        [("conv", "CONV_2D", ["x", "w"], ["y"]), ("add", "ADD", ["x", "y"], ["z"])],
    )


def test_arena_bytes_rounds_up_to_16():
    """TFLM's buffer alignment: 1 -> 16, 16 -> 16, 17 -> 32, 0 -> 0."""
    assert [arena_bytes(n) for n in (0, 1, 16, 17, 300)] == [0, 16, 16, 32, 304]


def test_lifetimes_of_a_chain():
    """Graph input from step 0; each tensor to its last reader; the graph output to the last step; no constants."""
    assert lifetimes(chain()) == {"x": (0, 0), "a": (0, 1), "y": (1, 1)}


def test_graph_output_lives_to_the_last_step():
    """A graph output written early stays live to the end even though nobody reads it."""
    g = graph(
        {"x": (1, 16), "a": (1, 16), "b": (1, 16)},
        [("k1", "RELU", ["x"], ["a"]), ("k2", "RELU", ["x"], ["b"])],
        outputs=("a", "b"),
    )
    assert lifetimes(g)["a"] == (0, 1)


def test_unread_output_lives_one_step():
    """A tensor nobody reads and that is no graph output is live only while its kernel runs."""
    g = graph(
        {"x": (1, 16), "dead": (1, 64), "y": (1, 16)},
        [("k1", "SPLIT", ["x"], ["dead", "y"]), ("k2", "RELU", ["y"], ["z"])],
    )
    g = KernelGraph({**g.tensors, "z": TensorInfo("z", (1, 16), 1)}, g.kernels, g.inputs, ("z",))
    assert lifetimes(g)["dead"] == (0, 0)
    assert peak_memory(g).live_bytes == (16 + 64 + 16, 16 + 16)


def test_peak_of_a_chain_counts_inputs_and_outputs_together():
    """Step 0 holds x and a, step 1 holds a and y, each rounded to 16 bytes."""
    profile = peak_memory(chain())
    assert profile.live_bytes == (r16(300) + r16(800), r16(800) + r16(50))
    assert (profile.peak_bytes, profile.peak_step) == (r16(300) + r16(800), 0)
    assert profile.live_tensors == (("x", "a"), ("a", "y"))


def test_float32_itemsize_scales_bytes():
    """A float32 tensor of 75 elements takes 300 bytes -> 304 in the arena."""
    g = KernelGraph(
        {"x": TensorInfo("x", (75,), 4), "y": TensorInfo("y", (75,), 4)},
        (Kernel("k", "RELU", ("x",), ("y",)),), ("x",), ("y",),
    )
    assert peak_memory(g).peak_bytes == 2 * r16(300)


def test_residual_add_overwrites_the_input_that_dies():
    """ADD of equal shapes reuses x (dies there): 256 + 256 instead of 3 x 256 at the ADD step."""
    g = residual()
    assert inplace_pairs(g) == {"z": "x"}
    assert peak_memory(g, inplace=False).peak_bytes == 3 * 256
    assert peak_memory(g, inplace=True).peak_bytes == 2 * 256


def test_no_inplace_when_the_input_is_read_later():
    """An ADD input still needed by a later kernel is never overwritten."""
    g = graph(
        {"x": (1, 64), "y": (1, 64), "z": (1, 64), "w": (1, 64)},
        [("add", "ADD", ["x", "y"], ["z"]), ("mul", "MUL", ["z", "x"], ["w"])],
        inputs=("x", "y"),
    )
    assert inplace_pairs(g) == {"z": "y", "w": "z"}


def test_no_inplace_for_broadcasting_add():
    """ADD with a broadcast input reads it many times: no in-place."""
    g = graph(
        {"x": (1, 8, 8, 4), "b": (1, 1, 1, 4), "z": (1, 8, 8, 4)},
        [("add", "ADD", ["x", "b"], ["z"])],
        inputs=("x", "b"),
    )
    assert inplace_pairs(g) == {}


def test_no_inplace_over_a_graph_output():
    """A graph output must survive: a RESHAPE never overwrites it."""
    g = graph({"x": (1, 64), "a": (1, 64), "b": (64,)},
              [("k", "RELU", ["x"], ["a"]), ("r", "RESHAPE", ["a"], ["b"])], outputs=("a", "b"))
    assert inplace_pairs(g) == {}


def test_reshape_chain_shares_one_buffer():
    """RESHAPE after RESHAPE: the whole chain is one buffer, counted once."""
    g = graph(
        {"x": (1, 64), "a": (1, 64), "b": (64,), "c": (8, 8)},
        [("k", "RELU", ["x"], ["a"]), ("r1", "RESHAPE", ["a"], ["b"]), ("r2", "RESHAPE", ["b"], ["c"])],
    )
    assert inplace_pairs(g) == {"b": "a", "c": "b"}
    assert peak_memory(g).live_bytes == (128, 64, 64)


def test_inplace_table_lists_only_proven_ops():
    """The in-place table holds exactly the kernels proven safe in TFLM."""
    assert sorted(INPLACE_OPS) == ["ADD", "MUL", "RESHAPE", "SUB"]


def test_order_changes_peak():
    """Running the small branch first keeps fewer big tensors live (explicit order argument)."""
    g = branches()
    assert peak_memory(g).peak_bytes == 16 + 1008 + 1008
    assert peak_memory(g, ["a1", "a2", "b1", "b2", "cat"]).peak_bytes == 16 + 1008 + 16


def test_non_topological_order_is_refused():
    """An order that reads a tensor before its kernel ran raises a one-line error naming both."""
    with pytest.raises(InvalidModelError, match="reads tensor 'a' before it is written"):
        peak_memory(chain(), ["c2", "c1"])


def branches() -> KernelGraph:
    # Two branches of a big (1000 B) then a small (16 B) tensor, concatenated; stored order interleaves them.
    return graph(
        {"x": (16,), "A": (1000,), "a": (16,), "B": (1000,), "b": (16,), "y": (32,)},
        [("a1", "CONV_2D", ["x"], ["A"]), ("b1", "CONV_2D", ["x"], ["B"]),
         ("a2", "CONV_2D", ["A"], ["a"]), ("b2", "CONV_2D", ["B"], ["b"]),
         ("cat", "CONCATENATION", ["a", "b"], ["y"])],
    )


def test_order_with_unknown_or_missing_kernels_is_refused():
    """An order that misses a kernel or names an unknown one raises a one-line error saying which."""
    with pytest.raises(InvalidModelError, match=r"unknown: \['nope'\], missing: \['c2'\]"):
        lifetimes(chain(), ["c1", "nope"])
    with pytest.raises(InvalidModelError, match="each of the 2 kernels once"):
        lifetimes(chain(), ["c1", "c1", "c2"])


def test_graph_without_kernels_has_no_steps():
    """An input passed straight through: no steps, peak 0 at step -1, lifetime (0, 0), no buffer counted."""
    g = KernelGraph({"x": TensorInfo("x", (1, 64), 1)}, (), ("x",), ("x",))
    profile = peak_memory(g)
    assert (profile.live_bytes, profile.peak_bytes, profile.peak_step, profile.order) == ((), 0, -1, ())
    assert lifetimes(g) == {"x": (0, 0)}


def test_peak_step_is_the_first_step_at_the_peak():
    """32 live bytes at every step: the peak is reported at step 0, the first of the equal steps."""
    g = graph({"x": (1, 16), "a": (1, 16), "b": (1, 16), "y": (1, 1)},
              [("k1", "RELU", ["x"], ["a"]), ("k2", "RELU", ["a"], ["b"]), ("k3", "MEAN", ["b"], ["y"])])
    profile = peak_memory(g)
    assert profile.live_bytes == (32, 32, 32) and profile.peak_step == 0


def test_inplace_chain_is_one_buffer_owned_by_the_first_tensor():
    """The chain's Buffer lists its tensors in lifetime order, even when the graph lists the output first."""
    from mcugraph.memory.peak import buffers

    g = graph({"b": (64,), "x": (1, 64), "a": (1, 64)},
              [("k", "RELU", ["x"], ["a"]), ("r", "RESHAPE", ["a"], ["b"])])
    chained = [buf for buf in buffers(g) if len(buf.tensors) > 1]
    assert [(buf.tensors, buf.nbytes, buf.first, buf.last, buf.scratch) for buf in chained] == [
        (("a", "b"), 64, 0, 1, False)]


def test_scratch_buffers_are_named_rounded_and_live_one_step():
    """A 1-byte scratch takes 16 bytes at its kernel's step only; a 0-byte request takes no buffer."""
    from mcugraph.memory.peak import buffers, scratch_name

    g = KernelGraph(
        {"x": TensorInfo("x", (1, 16), 1), "a": TensorInfo("a", (1, 16), 1), "y": TensorInfo("y", (1, 16), 1)},
        (Kernel("k1", "RELU", ("x",), ("a",)), Kernel("k2", "MEAN", ("a",), ("y",), scratch_bytes=(0, 1, 17))),
        ("x",), ("y",))
    scratch = [(b.tensors, b.nbytes, b.first, b.last) for b in buffers(g, scratch=True) if b.scratch]
    assert scratch == [(("k2/scratch1",), 16, 1, 1), (("k2/scratch2",), 32, 1, 1)]
    assert scratch_name("k2", 1) == "k2/scratch1"
    assert not any(b.scratch for b in buffers(g))
    assert peak_memory(g).live_bytes == (32, 32 + 16 + 32)


def test_empty_and_one_byte_tensors():
    """A zero-size tensor takes no arena and has no lifetime; a 1-byte tensor takes 16 bytes."""
    g = graph({"x": (1, 16), "e": (0, 4), "y": (1,)},
              [("k1", "SPLIT", ["x"], ["e", "y"])])
    assert lifetimes(g) == {"x": (0, 0), "y": (0, 0)}
    assert peak_memory(g).live_bytes == (32,)


def test_order_naming_unknown_or_missing_kernels_is_refused():
    """An order must name each kernel once: unknown, missing and repeated names are one-line errors."""
    with pytest.raises(InvalidModelError, match=r"unknown: \['zz'\], missing: \['c2'\], given 2 names"):
        lifetimes(chain(), ["c1", "zz"])
    with pytest.raises(InvalidModelError, match=r"missing: \['c2'\], given 1 names"):
        lifetimes(chain(), ["c1"])
    with pytest.raises(InvalidModelError, match="each of the 2 kernels once"):
        lifetimes(chain(), ["c1", "c1"])
    with pytest.raises(InvalidModelError, match="each of the 2 kernels once"):
        lifetimes(chain(), ["c1", "c2", "c2"])
    assert lifetimes(chain(), ["c1", "c2"]) == lifetimes(chain())


def test_inplace_candidates_by_hand():
    """Candidates: each distinct non-constant input of an equal-shape ADD; a RESHAPE's data input (even 1 byte);
    nothing for constants, zero-size tensors, other arena sizes or kernels outside the table."""
    from mcugraph.memory.inplace import inplace_candidates

    g = graph({"x": (1, 64), "c": ((1, 64), True), "y": (1, 64), "one": (1,), "r1": (1, 1), "e": (0,), "r0": (0, 1),
               "s": (8, 8), "big": (1, 96), "rb": (96,)},
              [("twice", "ADD", ["x", "x"], ["y"]), ("const", "ADD", ["c", "x"], ["y"]),
               ("r1", "RESHAPE", ["one", "s"], ["r1"]), ("r0", "RESHAPE", ["e"], ["r0"]),
               ("relu", "RELU", ["x"], ["y"]), ("grow", "RESHAPE", ["x"], ["rb"]),
               ("same", "RESHAPE", ["big"], ["rb"])], inputs=("x", "one", "e", "s", "big"))
    assert [inplace_candidates(k, g) for k in g.kernels] == [("x",), ("x",), ("one",), (), (), (), ("big",)]


def test_kernels_with_two_outputs_never_work_in_place():
    """ADD and RESHAPE are in place only with exactly one output."""
    from mcugraph.memory.inplace import inplace_candidates

    g = graph({"x": (1, 64), "y": (1, 64), "z": (1, 64), "w": (1, 64)},
              [("add", "ADD", ["x", "y"], ["z", "w"]), ("reshape", "RESHAPE", ["x"], ["z", "w"])], inputs=("x", "y"))
    assert [inplace_candidates(k, g) for k in g.kernels] == [(), ()]


def test_missing_kernels_listed_up_to_three():
    """The error names at most three missing kernels (the line stays short)."""
    kernels = [(f"k{i}", "RELU", [f"t{i}"], [f"t{i + 1}"]) for i in range(5)]
    g = graph({f"t{i}": (1, 16) for i in range(6)}, kernels, inputs=("t0",))
    with pytest.raises(InvalidModelError, match=r"missing: \['k1', 'k2', 'k3'\], given 1 names"):
        lifetimes(g, ["k0"])


def _stored(shapes: dict[str, tuple], kernels: list[tuple], inputs: tuple, outputs: tuple) -> KernelGraph:
    """A graph in TFLite storage layout (NHWC), where in-place CONCATENATION is allowed."""
    tensors = {n: TensorInfo(n, s, 1) for n, s in shapes.items()}
    return KernelGraph(tensors, tuple(Kernel(*k) for k in kernels), inputs, outputs, storage_shapes=True)


def test_concat_in_place_when_it_lowers_the_peak():
    """Two 128-byte bands concatenated along H: written inside the 256-byte output, the peak drops from 512 to
    272 (x + the output, reserved from the first band's step); the band at the lowest offset owns the bytes."""
    from mcugraph.memory.peak import placements

    g = _stored({"x": (1, 1, 1, 16), "a": (1, 2, 4, 16), "b": (1, 2, 4, 16), "y": (1, 4, 4, 16)},
                [("k1", "CONV_2D", ("x",), ("a",)), ("k2", "CONV_2D", ("x",), ("b",)),
                 ("cat", "CONCATENATION", ("a", "b"), ("y",))], ("x",), ("y",))
    assert placements(g) == {"a": ("a", 0), "y": ("a", 0), "b": ("a", 128)}
    assert peak_memory(g).live_bytes == (272, 272, 256)
    assert peak_memory(g, inplace=False).live_bytes == (144, 272, 512)


def test_concat_that_would_not_lower_the_peak_copies_and_keeps_other_pairs():
    """A concat that saves nothing (the big x is live anyway) stays a copy, and the RESHAPE pair found before it
    survives the undo."""
    from mcugraph.memory.peak import inplace_concat_parts, placements

    g = _stored({"x0": (1, 16, 16, 1), "x": (256,), "a": (1, 2, 4, 16), "b": (1, 2, 4, 16), "y": (1, 4, 4, 16),
                 "z": (1, 1, 1, 16)},
                [("r", "RESHAPE", ("x0",), ("x",)), ("k1", "CONV_2D", ("x",), ("a",)),
                 ("k2", "CONV_2D", ("x",), ("b",)), ("cat", "CONCATENATION", ("a", "b"), ("y",)),
                 ("k3", "ADD", ("y", "y"), ("z",))], ("x0",), ("z",))
    assert inplace_concat_parts(g) == {"a": ("y", 0), "b": ("y", 128)}  # allowed, but not taken:
    assert placements(g) == {"x0": ("x", 0), "x": ("x", 0)}
    assert peak_memory(g).live_bytes == (256, 384, 512, 512, 272)


def test_concat_of_a_graph_input_or_output_is_not_in_place():
    """A graph input (or output) band must keep its own bytes."""
    from mcugraph.memory.peak import inplace_concat_parts

    shapes = {"x": (1, 2, 4, 16), "b": (1, 2, 4, 16), "y": (1, 4, 4, 16)}
    kernels = [("k2", "CONV_2D", ("x",), ("b",)), ("cat", "CONCATENATION", ("x", "b"), ("y",))]
    assert inplace_concat_parts(_stored(shapes, kernels, ("x",), ("y",))) == {}
    assert inplace_concat_parts(_stored(shapes, kernels, ("x",), ("y", "b"))) == {}


def test_concat_parts_by_hand():
    """Bands of a CONCATENATION that may live inside its output, and each reason for none: another op, two outputs,
    one input, ONNX layout, a repeated or constant or empty input, another rank or itemsize, two differing axes,
    a non-1 dimension before the axis, a band not starting at a 16-byte boundary."""
    from mcugraph.memory.inplace import concat_parts

    def parts(shapes, inputs, outputs=("y",), op="CONCATENATION", storage=True, constant=(), itemsize=None):
        tensors = {n: TensorInfo(n, s, (itemsize or {}).get(n, 1), n in constant) for n, s in shapes.items()}
        kernel = Kernel("cat", op, tuple(inputs), tuple(outputs))
        return concat_parts(kernel, KernelGraph(tensors, (kernel,), (), tuple(outputs), storage_shapes=storage))

    bands = {"a": (1, 2, 4, 2), "b": (1, 2, 4, 2), "y": (1, 4, 4, 2)}
    assert parts(bands, "ab") == (("a", 0), ("b", 16))
    assert parts({"a": (1, 16), "b": (1, 1), "y": (1, 17)}, "ab") == (("a", 0), ("b", 16))  # a 1-byte band
    assert parts(bands, "ab", op="ADD") == ()
    assert parts({**bands, "z": (1, 4, 4, 2)}, "ab", outputs=("y", "z")) == ()
    assert parts({"a": (1, 4, 4, 2), "y": (1, 4, 4, 2)}, "a") == ()
    assert parts(bands, "ab", storage=False) == ()
    assert parts({"a": (1, 2, 4, 2), "y": (1, 4, 4, 2)}, "aa") == ()
    assert parts(bands, "ab", constant=("b",)) == ()
    assert parts({"a": (1, 0, 4, 2), "b": (1, 4, 4, 2), "y": (1, 4, 4, 2)}, "ab") == ()
    assert parts({"a": (2, 4, 2), "b": (1, 2, 4, 2), "y": (1, 4, 4, 2)}, "ab") == ()
    assert parts(bands, "ab", itemsize={"a": 4, "b": 4}) == ()
    assert parts({"a": (1, 2, 2, 2), "b": (1, 2, 6, 2), "y": (1, 4, 8, 2)}, "ab") == ()
    assert parts({"a": (2, 1, 4, 2), "b": (2, 1, 4, 2), "y": (2, 2, 4, 2)}, "ab") == ()
    assert parts({"a": (1, 1, 1, 8), "b": (1, 1, 1, 8), "y": (1, 1, 1, 16)}, "ab") == ()  # b at byte 8


def test_pad_placement_by_hand():
    """A PAD's input sits at the output's extra bytes rounded up to 16 (72 - 32 = 40 -> 48); none for another op,
    a constant, empty or other-itemsize input, or a PAD that adds nothing."""
    from mcugraph.memory.inplace import pad_placement

    def place(x_shape, y_shape=(1, 6, 6, 2), op="PAD", constant=False, itemsize=1):
        tensors = {"x": TensorInfo("x", x_shape, itemsize, constant), "p": TensorInfo("p", (4, 2), 4, True),
                   "y": TensorInfo("y", y_shape, 1)}
        kernel = Kernel("pad", op, ("x", "p"), ("y",))
        return pad_placement(kernel, KernelGraph(tensors, (kernel,), ("x",), ("y",)))

    assert place((1, 4, 4, 2)) == ("x", 48)
    assert place((1, 4, 4, 2), op="PADV2") == ("x", 48)
    assert place((1, 4, 4, 2), op="MIRROR_PAD") is None
    assert place((1, 4, 4, 2), constant=True) is None
    assert place((1, 0, 4, 2)) is None
    assert place((1, 4, 4, 2), itemsize=4) is None
    assert place((1, 6, 6, 2)) is None  # nothing added: nothing to gain
    assert place((1, 6, 6, 1)) == ("x", 48)  # 72 - 36 = 36 -> 48
