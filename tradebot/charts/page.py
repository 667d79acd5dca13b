"""The one HTML document shell of every page tradebot writes: the saved report and the
dashboard's pages differ in what they put in the head and the body, not in the document around
them (doctype, language, character set, viewport, title)."""
from __future__ import annotations

from html import escape

SHELL = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head}
</head>
<body{attributes}>
{body}
</body>
</html>
"""


def html_document(title: str, *, head: str, body: str, attributes: str = "") -> str:
    """A whole page. `title` is plain text (escaped here); `head`, `body` and the body tag's
    `attributes` (` data-page="x"`, leading space included) are HTML the caller has escaped."""
    return SHELL.format(title=escape(title), head=head, body=body, attributes=attributes)
