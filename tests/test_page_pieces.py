"""``viz.inspect_units.fill``: the pieces the pages share (``PIECES``: the head, the units pages'
heading and data element, units.css and units.js) go in once each, before the values."""

from __future__ import annotations

import re

import pytest

from rnnkit.viz.inspect_units import PIECES, embed_json, fill, read_embedded, template


@pytest.mark.parametrize("page", ["inspect.html", "serve.html", "serve_form.html"])
def test_each_page_is_whole_after_fill(page):
    out = fill(template(page), TITLE="the &lt;title&gt;", DATA=embed_json({"k": "__UNITS_JS__"}))
    assert out.startswith("<!DOCTYPE html>\n") and "<title>the &lt;title&gt;</title>" in out
    assert out.rstrip().endswith("</html>")
    assert re.findall(r"__[A-Z_]+__", out) == ["__UNITS_JS__"]  # a value's text is not filled again
    if page != "serve.html":  # the units pages: one heading, one data element, read as inspect's
        assert out.count('<h1 id="heading">') == 1 and out.count('id="tip"') == 1
        assert read_embedded(out) == {"k": "__UNITS_JS__"}


def test_every_piece_is_used():
    pages = [template(p) for p in ("inspect.html", "serve.html", "serve_form.html")]
    for name in PIECES:
        assert any(f"__{name}__" in page for page in pages), name
