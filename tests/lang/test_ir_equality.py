"""Equality of checked IR between equal graphs of distinct objects, as the compiler meets it in a
sweep: the same `sma(close, 10)` in each combination's program, one dict key for all of them.
Within `ir.shared_equality` (one compile) the pairs proven equal are remembered; these tests pin
that the memory never makes two different graphs equal and that it makes the work linear."""
from __future__ import annotations

import threading

import numpy as np
import polars as pl
import pytest

from tradebot.lang import ir
from tradebot.lang.compiler import compile_nodes
from tradebot.lang.types import NUMBER_CONST, NUMBER_SERIES


def bars(n: int) -> pl.DataFrame:
    return pl.DataFrame({"close": np.linspace(100.0, 120.0, n)})


def chain(leaf: float, depth: int) -> ir.Op:
    """`(close + leaf) * 1 * 1 ...`: every node new. hash(-1.0) == hash(-2.0) in CPython, so the
    chains over those leaves hash alike at every level and only a full walk tells them apart."""
    node = ir.Op("+", (ir.Call("close", (), NUMBER_SERIES), ir.Const(leaf, NUMBER_CONST)), NUMBER_SERIES)
    for _ in range(depth):
        node = ir.Op("*", (node, ir.Const(1.0, NUMBER_CONST)), NUMBER_SERIES)
    return node


def levels(node: ir.Node) -> list[ir.Node]:
    """The chain's nodes from its root down to `close + leaf`."""
    found = [node]
    while isinstance(node, ir.Op) and node.op == "*":
        node = node.args[0]
        found.append(node)
    return found


def test_the_leaves_collide_so_the_walk_is_what_decides() -> None:
    assert hash(chain(-1.0, 30)) == hash(chain(-2.0, 30))


def test_a_graph_differing_only_at_its_deepest_leaf_is_never_equal_within_a_scope() -> None:
    with ir.shared_equality():
        first, same, other = chain(-1.0, 30), chain(-1.0, 30), chain(-2.0, 30)
        assert first != other  # walked 30 equal-looking levels before the leaf: none remembered
        assert all(a != b for a, b in zip(levels(first), levels(other)))
        assert first == same  # now every level of `first` and `same` is remembered equal
        assert all(a == b for a, b in zip(levels(first), levels(same)))
        assert same != other and all(a != b for a, b in zip(levels(same), levels(other)))
        assert first == same  # and it stays so


def test_nodes_freed_and_recreated_within_a_scope_are_not_confused() -> None:
    # A memory of bare ids would take the new nodes (often at the freed nodes' addresses) for the
    # pair it had proven equal.
    with ir.shared_equality():
        for _ in range(300):
            a, b = chain(-1.0, 3), chain(-1.0, 3)
            assert a == b
            del a, b
            c, d = chain(-1.0, 3), chain(-2.0, 3)
            assert c != d and d != c


def test_a_scope_ends_with_its_block_and_each_thread_has_its_own() -> None:
    seen: list[object] = []

    def in_thread() -> None:
        seen.append(ir._PROVEN.get())
        with ir.shared_equality():
            assert chain(-1.0, 5) == chain(-1.0, 5) and chain(-1.0, 5) != chain(-2.0, 5)
            seen.append(ir._PROVEN.get())

    with ir.shared_equality():
        outer = ir._PROVEN.get()
        with ir.shared_equality():  # nested: the same memory
            assert ir._PROVEN.get() is outer
        worker = threading.Thread(target=in_thread)
        worker.start()
        worker.join()
        assert seen[0] is None and seen[1] is not outer
    assert ir._PROVEN.get() is None


def test_programs_differing_deep_inside_compile_to_their_own_columns() -> None:
    outputs = {"a": chain(-1.0, 30), "b": chain(-2.0, 30), "c": chain(-1.0, 30), "d": chain(-2.0, 29)}
    data = bars(20)
    frame = compile_nodes(outputs).evaluate(data)
    close = data["close"].to_numpy()
    np.testing.assert_allclose(frame["a"].to_numpy(), close - 1.0)
    np.testing.assert_allclose(frame["b"].to_numpy(), close - 2.0)
    np.testing.assert_allclose(frame["c"].to_numpy(), close - 1.0)
    np.testing.assert_allclose(frame["d"].to_numpy(), close - 2.0)


def sweep_outputs(programs: int, depth: int) -> dict[str, ir.Node]:
    """A sweep's programs: different at the top (their params), equal graphs of distinct objects
    below."""
    return {f"p{i}": ir.Op("-", (chain(-1.0, depth), ir.Const(float(i), NUMBER_CONST)), NUMBER_SERIES)
            for i in range(programs)}


@pytest.fixture
def expansions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many node pairs the equality walk opens (one element per pair)."""
    opened: list[int] = []
    field_pairs = ir._field_pairs

    def counting(a: object, b: object) -> list[tuple[object, object]]:
        opened.append(1)
        return field_pairs(a, b)

    monkeypatch.setattr(ir, "_field_pairs", counting)
    return opened


@pytest.mark.parametrize("programs", [2, 8])
def test_lookups_in_a_scope_walk_each_pair_of_equal_nodes_once(programs: int, expansions: list[int]) -> None:
    # A dict keyed by nodes (grouping a sweep's programs by their engine inputs) looks up each
    # level of each program: without the scope's memory each lookup walked the graph below again.
    outputs = sweep_outputs(programs, 40)
    nodes = sum(len(list(ir.walk(node))) for node in outputs.values())
    seen: dict[ir.Node, int] = {}
    with ir.shared_equality():
        for node in outputs.values():
            for level in levels(node.args[0]):
                seen.setdefault(level, len(seen))
    assert len(seen) == 41  # the levels of one chain: every program's are equal to the first's
    assert len(expansions) <= nodes


@pytest.mark.parametrize("programs", [2, 8])
def test_a_compile_places_each_node_once(programs: int, expansions: list[int]) -> None:
    # The compiler's dicts (use counts, columns) meet each shared node of every program several
    # times: comparing graphs each time made the work grow with depth x lookups.
    outputs = sweep_outputs(programs, 40)
    nodes = sum(len(list(ir.walk(node))) for node in outputs.values())
    data = bars(5)
    plan = compile_nodes(outputs)
    assert len(expansions) <= nodes
    assert sum(len(layer) for layer in plan.layers) < 45  # the chain's columns once, not per program
    frame = plan.evaluate(data)
    for i in range(programs):
        np.testing.assert_allclose(frame[f"p{i}"].to_numpy(), data["close"].to_numpy() - 1.0 - i)
