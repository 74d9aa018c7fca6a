"""The runs of a study as a table, with the columns that make sense for its kind (``show`` and reports)."""

from __future__ import annotations

from collections.abc import Callable

from ..results.records import RunRecord
from .document import Bullets, Section, Table

Column = tuple[str, Callable[[RunRecord], str], bool]  # header, cell, numeric


def _number(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


COMMON_TAIL: list[Column] = [
    ("status", lambda r: r.status, False),
    ("final val", lambda r: _number(r.final_val_loss), True),
    ("best val", lambda r: _number(r.best_val_loss), True),
    ("best@", lambda r: str(r.best_step) if r.best_step is not None else "-", True),
    ("bits/B", lambda r: _number(r.bits_per_byte), True),
    ("train FLOPs", lambda r: f"{r.train_flops:.3g} ({r.flop_convention})", True),
    ("engine", lambda r: r.engine if r.pack_runs == 1 else f"{r.engine} ×{r.pack_runs}", False),
    ("secs", lambda r: f"{r.wall_seconds:.1f}", True),
    ("key", lambda r: r.key, False),
    ("failure", lambda r: r.error or "", False),
]

# A study's own grid (D; budget and size): what is left of a run's grid point are its values on the axes.
STUDY_GRID = {"scarcity": ("unique_samples",), "isoflops": ("budget", "size")}


def _axes(kind: str) -> Callable[[RunRecord], str]:
    return lambda r: " ".join(f"{n}={v:g}" for n, v in r.grid.items() if n not in STUDY_GRID[kind]) or "-"


COLUMNS: dict[str, list[Column]] = {
    "scarcity": [
        ("D", lambda r: str(r.unique_samples), True),
        ("seed", lambda r: str(r.seed), True),
        ("epochs", lambda r: f"{r.epochs:.3g}", True),
        ("axes", _axes("scarcity"), False),
        *COMMON_TAIL,
    ],
    "isoflops": [
        ("C", lambda r: f"{r.budget_flops:.3g}", True),
        ("size", lambda r: r.model, False),
        ("N total", lambda r: f"{r.parameters:,}", True),
        ("N non-emb.", lambda r: f"{r.non_embedding_parameters:,}", True),
        ("D tokens", lambda r: f"{r.tokens:,.0f}", True),
        ("epochs", lambda r: f"{r.epochs:.3g}", True),
        ("seed", lambda r: str(r.seed), True),
        ("axes", _axes("isoflops"), False),
        *COMMON_TAIL,
    ],
}
# The recipes' runs (isoflop pretrain, isoflop finetune): one model, its tokens and epochs.
RECIPE: list[Column] = [
    ("model", lambda r: r.model, False),
    ("N total", lambda r: f"{r.parameters:,}", True),
    ("N non-emb.", lambda r: f"{r.non_embedding_parameters:,}", True),
    ("tokens", lambda r: f"{r.tokens:,.0f}", True),
    ("epochs", lambda r: f"{r.epochs:.3g}", True),
    *COMMON_TAIL,
]
COLUMNS |= {"pretrain": RECIPE, "finetune": RECIPE}


# A report's run table shows this much of each key (the full key is in the run's provenance on the same page).
SHORT_KEY = 8


def speed_line(runs: list[RunRecord]) -> str:
    """How fast the runs trained: the median tokens per second, the matmul FLOPs per second it means, and the MFU
    against the GPU's bf16 peak where one was known (none on a CPU)."""
    timed = sorted((r for r in runs if r.tokens_per_second), key=lambda r: r.tokens_per_second)
    if not timed:
        return ""
    middle = timed[len(timed) // 2]
    executed = middle.flop_counts.get("matmul")
    flops = f" ({middle.tokens_per_second * executed / 1e9:.3g} GFLOP/s executed, matmul count)" if executed else ""
    mfu = (f"; MFU {middle.mfu['matmul']:.1%} (matmul) and {middle.mfu['full']:.1%} (full) of the GPU's bf16 peak"
           if "matmul" in middle.mfu and "full" in middle.mfu else "; no MFU: no GPU peak is known for where they ran")
    return f" Speed: median {middle.tokens_per_second:,.0f} training tokens per second per run{flops}{mfu}."


def run_table(kind: str, runs: list[RunRecord], page: bool = False) -> Table:
    """One row per run; the failure column only when a run failed, the axes column only when a run has axis values.
    ``page``: for a report, narrow enough for a 1280-px window (keys shortened, one FLOP convention named once)."""
    columns = [c for c in COLUMNS[kind] if (c[0] != "failure" or any(not r.completed for r in runs))
               and (c[0] != "axes" or any(c[1](r) != "-" for r in runs))]
    conventions = {r.flop_convention for r in runs}
    if page:
        narrow = {"key": ("key", lambda r: r.key[:SHORT_KEY], False)}
        if len(conventions) == 1:
            narrow["train FLOPs"] = (f"train FLOPs ({next(iter(conventions))})", lambda r: f"{r.train_flops:.3g}", True)
        columns = [narrow.get(c[0], c) for c in columns]
    return Table(
        header=[header for header, _, _ in columns],
        rows=[[cell(run) for _, cell, _ in columns] for run in runs],
        numeric=[numeric for _, _, numeric in columns],
    )


def closing_sections(kind: str, runs: list[RunRecord], notes: list[str]) -> list[Section]:
    """What ends every report: the failed runs with their reasons, the plan's notes, every run."""
    sections = []
    failures = [f"{r.label}: {r.error}" for r in runs if not r.completed]
    if failures:
        sections.append(Section("Failed runs", [Bullets(failures)]))
    if notes:
        sections.append(Section("Notes", [Bullets(notes)]))
    return sections + [Section(f"Every run (one row per run; keys shortened to {SHORT_KEY} characters, in full in the "
                               "provenance below)", [run_table(kind, runs, page=True)])]
