"""Stateful series: definitions that read their own past, such as

    streak = if close > close[1] then streak[1] + 1 else 0 starting 0

`groups` forms the recursions while the checker resolves definitions; `bytecode` turns one into a
small stack program over whole input columns (computed by the Polars plan first); `vm` runs every
such program in ONE numba function, compiled once per installation, never per script; `lowering`
puts the run into the plan as one column. The reference evaluator interprets the IR bar by bar
without any of this (lang/reference.py).
"""
