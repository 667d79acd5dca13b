"""`tradebot repl`: interactive exploration of .tbs expressions and strategies (prompt_toolkit)."""
