"""A report document as markdown: ``summary.md``."""

from __future__ import annotations

from pathlib import Path

from .document import Block, Bullets, Document, Figure, Paragraph, Table


def render_markdown(document: Document, folder: Path) -> str:
    """The report as Markdown, figures linked from ``folder``."""
    lines = [f"# {document.title}", ""]
    for block in document.intro:
        lines += _block(block, folder)
    lines += ["## Answer", "", *[f"- {line}" for line in document.answer], ""]
    for section in document.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            lines += _block(block, folder)
    return "\n".join(lines)


def plain(line: str) -> str:
    """An answer line for a terminal: the Markdown emphasis (``**``) that the reports render, left out."""
    return line.replace("**", "")


def _block(block: Block, folder: Path) -> list[str]:
    if isinstance(block, Paragraph):
        return [block.text, ""]
    if isinstance(block, Bullets):
        return [*[f"- {item}" for item in block.items], ""]
    if isinstance(block, Table):
        numeric = block.numeric or [False] * len(block.header)
        return [
            "| " + " | ".join(block.header) + " |",
            "|" + "|".join("---:" if right else "---" for right in numeric) + "|",
            *["| " + " | ".join(row) + " |" for row in block.rows],
            "",
        ]
    if isinstance(block, Figure):
        return [f"![{block.caption}]({block.path.relative_to(folder).as_posix()})", ""]
    raise TypeError(f"unknown block {block!r}")
