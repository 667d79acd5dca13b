"""Editor and documentation tooling generated from the language's registries.

Nothing on the compile path (parser → resolve/checker → compiler) imports this package: the
vocabulary, both lexers (Pygments for the REPL, TextMate for editors) and the builtin reference are
derived from `lang.builtins`, `lang.settings` and the grammar, so they cannot drift from them.
"""
