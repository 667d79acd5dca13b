"""The .tbs grammar, shipped inside the wheel as tradebot.grammar."""
