"""A self-contained HTML page: inline CSS, a little inline JS (sortable tables, timeline zoom, click-to-seek), inline
SVG; nothing is fetched when it is viewed. The scores shown are also embedded as JSON (``#scores``).

Every string that comes from data (ids, labels, tags, class and file names) is escaped where it is placed (text,
attributes, SVG, the JSON in ``<script>``), and the page carries a Content-Security-Policy that lets only its own
script run (by its SHA-256), loads nothing from elsewhere and allows local video files only: an id such as
``"><img src=x onerror=...>`` shows as text and, were any escape missed, could still not run."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 8px; border: 1px solid #ddd; }
th { background: #f3f3f3; cursor: pointer; user-select: none; } td.num { text-align: right; }
.rowname, .tick { font-size: 11px; fill: #333; } .timeline rect { cursor: pointer; }
.scroll { overflow-x: auto; border: 1px solid #eee; } .note { color: #666; font-size: 12px; }
video { max-width: 480px; display: block; margin: 6px 0; }
"""

JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, column) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows), up = th.dataset.order !== 'up';
    rows.sort(function (a, b) {
      var x = a.cells[th.cellIndex].dataset.v || a.cells[th.cellIndex].textContent;
      var y = b.cells[th.cellIndex].dataset.v || b.cells[th.cellIndex].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
      return up ? c : -c;
    });
    th.dataset.order = up ? 'up' : 'down';
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.querySelectorAll('input.zoom').forEach(function (input) {
  input.addEventListener('input', function () {
    document.querySelectorAll('svg.timeline').forEach(function (svg) {
      svg.style.width = (parseFloat(svg.getAttribute('width')) * input.value) + 'px';
      svg.style.height = 'auto';
    });
  });
});
document.addEventListener('click', function (event) {
  var rect = event.target.closest('svg.timeline rect');
  if (!rect) { return; }
  var svg = rect.closest('svg.timeline'), player = svg && document.getElementById('player-' + svg.dataset.video);
  if (player) { player.currentTime = parseFloat(rect.dataset.t); player.play(); }
});
"""


@dataclass
class Section:
    title: str
    body: str


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], sortable: bool = True) -> str:
    """An HTML table; numbers are right-aligned, shown with one decimal and sorted by value."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            shown = "n/a" if value != value else f"{value:.1f}"  # NaN
            return f'<td class="num" data-v="{value}">{shown}</td>'
        if isinstance(value, int):
            return f'<td class="num">{value}</td>'
        return f"<td>{escape(str(value))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return (
        f'<table class="{"sortable" if sortable else ""}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    )


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def heading(text: str) -> str:
    """A sub-heading (``<h3>``) of a section."""
    return f"<h3>{escape(text)}</h3>"


def script_json(data: object) -> str:
    """``data`` as JSON that cannot end its ``<script>`` element or open a comment: ``<``, ``>``, ``&`` and the
    line separators U+2028/U+2029 as ``\\u`` escapes (still the same JSON)."""
    text = json.dumps(data, default=float)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def content_security_policy(script: str) -> str:
    """Nothing fetched, no plugin, no form, no base URL; the one inline script allowed by its hash, inline styles
    (the ``<style>`` element and SVG's ``style``), data: images and local media for the players."""
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
        "media-src 'self' file: blob:; base-uri 'none'; form-action 'none'; object-src 'none'"
    )


def page(title: str, sections: Sequence[Section], scores: dict) -> str:
    """The whole document."""
    body = "".join(f"<h2>{escape(s.title)}</h2>{s.body}" for s in sections)
    csp = escape(content_security_policy(JS), quote=True)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>{body}"
        f'<script type="application/json" id="scores">{script_json(scores)}</script><script>{JS}</script>'
        "</body></html>"
    )
