"""The stack machine that runs the stateful part of a script bar by bar: its instruction set
(`opcodes`) and its one numba interpreter (`interp`), compiled once per installation.

A leaf package, importing nothing from tradebot: the language compiles to these instructions
(lang/stateful/bytecode.py) and the engine runs them inside its bar loop (runtime/kernel.py), and
neither of those layers may import the other.
"""
