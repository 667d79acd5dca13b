"""`tradebot repl`: interactive exploration of .tbs expressions and strategies (prompt_toolkit).

    session.py     the immutable session: statements as source, checked by the pipeline
    controller.py  Repl.handle(text) -> Reply: one input in, the text to print out
    commands.py    the `:command` table (COMMANDS) and handlers
    display.py     value tables, terminal charts, help pages
    completer.py   completion from the registries and the session
    app.py         the prompt loop (PromptSession, key bindings, history)

docs/repl.md is the user's guide.
"""
