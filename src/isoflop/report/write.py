"""Writing a study's report: ``summary.md`` and ``report.html``, each atomically."""

from __future__ import annotations

from pathlib import Path

from ..files import write_atomic
from .document import Document
from .html import render_html
from .markdown import render_markdown

SUMMARY_NAME = "summary.md"
HTML_NAME = "report.html"


def write_report(document: Document, folder: Path) -> list[Path]:
    """Write both renderings; returns every file of the report (figures first), all of which exist."""
    summary = write_atomic(folder / SUMMARY_NAME, render_markdown(document, folder))
    page = write_atomic(folder / HTML_NAME, render_html(document))
    figures = [figure.path for figure in document.figures()]
    return [path for path in figures if path.exists()] + [summary, page]
