"""`python -m tradebot` is the same as the `tradebot` command."""
import sys

from .cli import main

sys.exit(main())
