"""The builtin library, one module per family; each exports BUILTINS (see lang/builtins.py)."""
from __future__ import annotations

from . import core, math, prices

LIBRARY_MODULES = (prices, math, core)
