"""One-node AST mutations of a Python module, for benchmarks/mutation.py.

Operators (each mutant changes exactly one node):

- ``cmp``: a comparison flipped at its boundary or negated: ``<`` -> ``<=``, ``<=`` -> ``<``, ``>`` -> ``>=``,
  ``>=`` -> ``>``, ``==`` <-> ``!=``, ``in`` <-> ``not in``, ``is`` <-> ``is not``;
- ``arith``: ``+`` <-> ``-``, ``*`` -> ``/``, ``/`` -> ``*``, ``//`` -> ``/``, ``%`` -> ``//``, ``|`` <-> ``&``,
  ``<<`` <-> ``>>`` (in expressions and augmented assignments);
- ``const``: an int or float constant plus 1 (``0`` -> ``1``, ``16`` -> ``17``, ``1e-5`` -> ``1.00001``), ``True`` <->
  ``False``;
- ``minmax``: a call of ``min`` <-> ``max``; ``boolop``: ``and`` <-> ``or``; ``not``: ``not x`` -> ``x``, ``-x`` -> ``x``;
- ``drop``: a statement that acts by side effect (expression statement, augmented assignment, assignment to an
  attribute or item, ``continue``, ``break``, ``raise``) replaced by ``pass``;
- ``return``: ``return value`` -> ``return None``.

Not mutated, because they only change messages or types: docstrings and other strings, f-string contents, the
arguments of a ``raise``, annotations; nor ``zip(..., strict=True)``'s flag (a guard: with the equal lengths the
code builds, ``strict=False`` behaves the same, so every such mutant would be equivalent). A plain ``name = value`` is never dropped (the NameError that follows is a
trivial kill that only costs time).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Iterator

_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
        ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_ARITH = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
          ast.Mod: ast.FloorDiv, ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.LShift: ast.RShift,
          ast.RShift: ast.LShift}
_SKIP_FIELDS = {"annotation", "returns", "type_comment", "decorator_list"}


@dataclasses.dataclass(frozen=True)
class Mutant:
    index: int  # position among the module's mutation sites (stable for one version of the source)
    operator: str  # cmp, arith, const, minmax, boolop, not, drop, return
    line: int
    description: str  # e.g. "<  ->  <="
    source_line: str  # the original line, stripped
    occurrence: int = 1  # the same change on the same line text: 1st, 2nd, ... (e.g. two ``2`` constants)

    def key(self, path: str) -> str:
        """Identity that survives edits elsewhere in the file: path, the line's text and the change."""
        nth = f" #{self.occurrence}" if self.occurrence > 1 else ""
        return f"{path} | {self.source_line} | {self.description}{nth}"


def _is_docstring(node: ast.AST, parent: ast.AST | None) -> bool:
    body = getattr(parent, "body", None)
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            and isinstance(body, list) and body and body[0] is node)


def _walk(node: ast.AST, parent: ast.AST | None = None) -> Iterator[tuple[ast.AST, ast.AST | None]]:
    """Every node in a fixed order, skipping annotations, f-strings, raise arguments and docstrings."""
    if isinstance(node, ast.JoinedStr) or _is_docstring(node, parent):
        return
    if isinstance(node, ast.keyword) and node.arg == "strict":
        return
    yield node, parent
    if isinstance(node, ast.Raise):
        return  # dropping the raise is a site (yielded above); its message is not
    for field, value in ast.iter_fields(node):
        if field in _SKIP_FIELDS:
            continue
        children = value if isinstance(value, list) else [value]
        for child in children:
            if isinstance(child, ast.AST):
                yield from _walk(child, node)


def _sites(node: ast.AST, parent: ast.AST | None) -> list[tuple[str, str]]:
    """(operator, description) of each mutation this node offers, in a fixed order."""
    found = []
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) in _CMP:
                found.append(("cmp", f"{_sym(op)}  ->  {_sym(_CMP[type(op)]())}"))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH:
        found.append(("arith", f"{_sym(node.op)}  ->  {_sym(_ARITH[type(node.op)]())}"))
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
        new = (not node.value) if isinstance(node.value, bool) else node.value + 1
        found.append(("const", f"{node.value!r}  ->  {new!r}"))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
        found.append(("minmax", f"{node.func.id}  ->  {'max' if node.func.id == 'min' else 'min'}"))
    elif isinstance(node, ast.BoolOp):
        found.append(("boolop", f"{_sym(node.op)}  ->  {'or' if isinstance(node.op, ast.And) else 'and'}"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        found.append(("not", f"{_sym(node.op)}x  ->  x"))
    elif isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        found.append(("return", "return value  ->  return None"))
    if _droppable(node, parent):
        found.append(("drop", f"{type(node).__name__.lower()} statement  ->  pass"))
    return found


def _droppable(node: ast.AST, parent: ast.AST | None) -> bool:
    if isinstance(node, (ast.AugAssign, ast.Continue, ast.Break, ast.Raise)):
        return True
    if isinstance(node, ast.Expr):
        return not isinstance(node.value, ast.Constant)  # not a bare string
    if isinstance(node, ast.Assign):
        return any(isinstance(t, (ast.Attribute, ast.Subscript)) for t in node.targets)
    return False


def _sym(op: ast.AST) -> str:
    symbols = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
               ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
               ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.BitOr: "|", ast.BitAnd: "&", ast.LShift: "<<",
               ast.RShift: ">>", ast.And: "and", ast.Or: "or", ast.Not: "not ", ast.USub: "-"}
    return symbols[type(op)]


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source``, in a fixed order."""
    lines = source.splitlines()
    result = []
    seen: dict[tuple[str, str], int] = {}
    for node, parent in _walk(ast.parse(source)):
        for operator, description in _sites(node, parent):
            line = getattr(node, "lineno", 0)
            text = lines[line - 1].strip() if line else ""
            seen[text, description] = seen.get((text, description), 0) + 1
            result.append(Mutant(len(result), operator, line, description, text, seen[text, description]))
    return result


def mutate(source: str, mutant: Mutant) -> str:
    """``source`` with ``mutant`` applied (re-generated from the AST: comments and formatting are not kept)."""
    tree = ast.parse(source)
    count = 0
    for node, parent in _walk(tree):
        sites = _sites(node, parent)
        if count + len(sites) <= mutant.index:
            count += len(sites)
            continue
        operator, _ = sites[mutant.index - count]
        _apply(node, parent, operator, mutant.index - count)
        return ast.unparse(ast.fix_missing_locations(tree))
    raise IndexError(f"mutant {mutant.index} is past the last site")


def _apply(node: ast.AST, parent: ast.AST | None, operator: str, which: int) -> None:
    if operator == "cmp":
        positions = [i for i, op in enumerate(node.ops) if type(op) in _CMP]
        i = positions[which]
        node.ops[i] = _CMP[type(node.ops[i])]()
    elif operator == "arith":
        node.op = _ARITH[type(node.op)]()
    elif operator == "const":
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif operator == "minmax":
        node.func.id = "max" if node.func.id == "min" else "min"
    elif operator == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif operator == "not":
        _replace(parent, node, node.operand)
    elif operator == "return":
        node.value = ast.Constant(None)
    elif operator == "drop":
        _replace(parent, node, ast.copy_location(ast.Pass(), node))


def _replace(parent: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for field, value in ast.iter_fields(parent):
        if isinstance(value, list):
            for i, item in enumerate(value):
                if item is old:
                    value[i] = copy.copy(new)
                    return
        elif value is old:
            setattr(parent, field, new)
            return
    raise ValueError("node not found under its parent")
