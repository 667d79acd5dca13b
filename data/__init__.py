"""Bundled real market data (EUR/USD hourly), shipped inside the wheel as tradebot.bundled."""
