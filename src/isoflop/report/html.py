"""A report document as one self-contained HTML page: figures embedded, readable offline.

The page holds the answer, every section, and the provenance of every run (its key,
status, engine, full config, library versions and data fingerprint).
"""

from __future__ import annotations

import base64
import html
import json
import re

from .document import Block, Bullets, Document, Figure, Paragraph, Table

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 76rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
p, li { max-width: 60rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
#answer { background: #f3f7ff; border-left: 4px solid #3b6fd8; padding: 0.5rem 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.4rem; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0; } figure img { max-width: 100%; } figcaption { font-size: 0.85rem; color: #555; }
details { margin: 0.3rem 0; } pre { background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""


def render_html(document: Document) -> str:
    """The report as one self-contained HTML page (figures inlined)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(document.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(document.title)}</h1>",
        *[_block(block) for block in document.intro],
        '<section id="answer"><h2>Answer</h2><ul>',
        *[f"<li>{_inline(line)}</li>" for line in document.answer],
        "</ul></section>",
    ]
    for section in document.sections:
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>")
        parts += [_block(block) for block in section.blocks]
        parts.append("</section>")
    parts += ['<section id="provenance"><h2>Provenance of every run</h2>', *_provenance(document), "</section>"]
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        numeric = block.numeric or [False] * len(block.header)
        head = "".join(f"<th>{_inline(h)}</th>" for h in block.header)
        rows = "".join(
            "<tr>" + "".join(f'<td{" class=num" if right else ""}>{_inline(cell)}</td>' for cell, right in zip(row, numeric)) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if isinstance(block, Figure):
        data = base64.b64encode(block.path.read_bytes()).decode("ascii")
        caption = html.escape(block.caption)
        return f'<figure><img alt="{caption}" src="data:image/png;base64,{data}"><figcaption>{caption}</figcaption></figure>'
    raise TypeError(f"unknown block {block!r}")


def _provenance(document: Document) -> list[str]:
    out = []
    for run in document.runs:
        facts = {
            "key": run.key, "status": run.status, "error": run.error, "engine": run.engine, "precision": run.precision,
            "flop_convention": run.flop_convention, "wall_seconds": round(run.wall_seconds, 3), "pack_runs": run.pack_runs,
            "data_fingerprint": run.data_fingerprint, "finished": run.finished,
        }
        body = json.dumps({"run": facts, "config": run.config, "versions": run.versions}, indent=2, sort_keys=True)
        out.append(f"<details><summary>{html.escape(run.label)} — {html.escape(run.status)} "
                   f"(<code>{run.key}</code>)</summary><pre>{html.escape(body)}</pre></details>")
    return out
