"""The vendored ECharts build and the page assets, read from package data.

vendor/echarts.min.js is `dist/echarts.min.js` of the npm package echarts@ECHARTS_VERSION
(`npm pack echarts@6.1.0`), unmodified; its licence (Apache-2.0), NOTICE and the d3 licence it
includes sit beside it. The checksum is verified on every read: a corrupted or swapped file
fails loudly instead of producing a page that silently does not draw.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

ECHARTS_VERSION = "6.1.0"
ECHARTS_SHA256 = "b66b25aeb4df84e33199dc21694014d336d222cbd9deb0e5a7c14bd6aa0d0fd0"
ECHARTS_FILE = "echarts.min.js"


class VendoredFileError(RuntimeError):
    """The vendored library is not the file this version of tradebot was built with."""


@lru_cache(maxsize=1)
def echarts_js() -> str:
    data = resources.files(__package__).joinpath("vendor", ECHARTS_FILE).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != ECHARTS_SHA256:
        raise VendoredFileError(f"tradebot/charts/vendor/{ECHARTS_FILE} has SHA-256 {digest}, expected "
                                f"{ECHARTS_SHA256} (echarts {ECHARTS_VERSION}): reinstall tradebot")
    return data.decode("utf-8")


def asset_text(name: str) -> str:
    """One of the page's own files under assets/ (report.js, report.css)."""
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
