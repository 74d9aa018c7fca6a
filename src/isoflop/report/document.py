"""The report as data: sections of paragraphs, bullet lists, tables and figures, plus the answer.

Each study's report builds a ``Document`` from plain run records; renderers turn it into
markdown (``summary.md``) or a self-contained HTML page (``report.html``). Text may use
``**bold**`` and ```code``` spans; both renderers understand them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..results.records import RunRecord


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of the report."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of the report."""

    items: list[str]


@dataclass(frozen=True)
class Table:
    """A table of the report: a header and rows of cells."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)  # right-align these columns


@dataclass(frozen=True)
class Figure:
    """A figure of the report: a PNG written beside it, with a caption."""

    path: Path  # a PNG that exists
    caption: str


Block = Paragraph | Bullets | Table | Figure


@dataclass(frozen=True)
class Section:
    """A titled section of the report, a list of blocks."""

    title: str
    blocks: list[Block]


@dataclass(frozen=True)
class Document:
    """A report: its title, the answer in plain lines, its sections; rendered as Markdown and HTML."""

    title: str
    intro: list[Block]
    answer: list[str]  # the plain-words answer, one line each; the CLI prints it
    sections: list[Section]
    runs: list[RunRecord] = field(default_factory=list)  # provenance: every run behind the numbers

    def figures(self) -> list[Figure]:
        return [block for section in self.sections for block in section.blocks if isinstance(block, Figure)]
