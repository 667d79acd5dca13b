"""A recursion in the Polars plan: one `map_batches` over its input columns that runs the VM and
returns every member as a field of one struct column. Polars calls Python once per run, not per
row; the loop over bars is the VM's.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import polars as pl

from .. import ir
from ..library.support import _compiled, _with_nan
from ..types import Kind
from .bytecode import Bytecode


def group_expr(group: ir.Recurrence, program: Bytecode, inputs: Sequence[pl.Expr]) -> pl.Expr:
    """The struct column of the group's members (fields named after them)."""
    kinds = {name: body.type.kind for name, body in zip(group.names, group.bodies)}
    dtype = pl.Struct({name: (pl.Boolean if kinds[name] is Kind.BOOL else pl.Float64) for name in group.names})

    # `_options`: Polars passes a UDF its return_dtype as a keyword and, refused, calls again
    # without: a TypeError raised and caught on every evaluation (library/support.py, `kernel`).
    def run(series: Sequence[pl.Series], **_options: object) -> pl.Series:
        vm = _compiled("tradebot.vm.interp")
        n = len(series[0])
        columns = np.empty((len(program.inputs), n))
        for row, column in enumerate(series[:len(program.inputs)]):
            columns[row] = _with_nan(column.cast(pl.Float64))
        out = vm.run(program.code, program.consts, columns, program.segments, len(group.names), n,
                     program.stack_size)
        fields = {}
        for row, name in enumerate(group.names):
            values = pl.Series(name, out[row], nan_to_null=True)
            fields[name] = values.cast(pl.Boolean) if kinds[name] is Kind.BOOL else values
        return pl.DataFrame(fields).to_struct()

    return pl.map_batches(list(inputs), run, return_dtype=dtype)
