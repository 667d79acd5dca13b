"""The local web dashboard (`tradebot ui`): one place to start, watch and stop the CLI's commands
and to look at their results.

- `settings`  - where things are: the project folder, the store, the session folders, the jobs
                folder; the bind address and the token (the `[ui]` config section).
- `paths`     - the only way a path from a request becomes a file: inside an allowed root or refused.
- `kinds`     - the allow-list of jobs: each kind's form fields, validated, become an argument list.
- `jobs`      - supervised child processes and their registry on disk (reattached after a restart).
- `supervise` - the small parent each job runs under: forwards Ctrl-C, records the exit code.
- `views`     - what the pages show, read from the store, the project, Optuna and paper sessions.
- `pages`     - server-rendered HTML; `security` - token, CSRF, Origin and Host checks;
- `server`    - the aiohttp application: routes, server-sent events;
- `command`   - `tradebot ui` itself: the settings, the printed URL (with a generated token), serving.

Nothing here imports `cli`; only `cli/ui.py` imports this package. Paper and live sessions are
read through their folders (journal, trades.csv, equity.csv, result.json), never by importing a
trader, so the dashboard cannot stall one.
"""
