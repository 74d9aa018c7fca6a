"""The report document, rendered to markdown and to a self-contained HTML page checked in a real browser."""

import re
import shutil
import subprocess

import pytest

from isoflop import build_config, run_study
from isoflop.report.document import Bullets, Document, Figure, Paragraph, Section, Table
from isoflop.report.html import render_html
from isoflop.report.markdown import render_markdown
from helpers import record

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]


def tiny_png(tmp_path):
    from isoflop.report.plots import plt, save_figure

    figure, axes = plt.subplots()
    axes.plot([1, 2], [3, 4])
    return save_figure(figure, tmp_path / "line")


def document(tmp_path):
    return Document(
        title="A study",
        intro=[Paragraph("**Setup.** model `tiny`")],
        answer=["D=1 costs +5.0%", "less data hurts"],
        sections=[
            Section("Table", [Table(["D", "loss"], [["1", "2.5"], ["2", "2.4"]], [True, True])]),
            Section("Plots", [Figure(tiny_png(tmp_path), "a line")]),
            Section("Notes", [Bullets(["one <note> & more"])]),
        ],
        runs=[record()],
    )


def test_markdown_has_the_answer_tables_and_relative_figure_links(tmp_path):
    text = render_markdown(document(tmp_path), tmp_path)
    assert "## Answer\n\n- D=1 costs +5.0%\n- less data hurts" in text
    assert "| D | loss |\n|---:|---:|\n| 1 | 2.5 |" in text
    assert "![a line](line.png)" in text


def test_html_is_self_contained_and_carries_every_run_provenance(tmp_path):
    page = render_html(document(tmp_path))
    assert "<strong>Setup.</strong> model <code>tiny</code>" in page
    assert 'src="data:image/png;base64,' in page
    assert not re.search(r'(src|href)="(https?:|/|file:)', page) and "<link" not in page and "<script" not in page
    assert "one &lt;note&gt; &amp; more" in page
    assert "&quot;data_fingerprint&quot;: &quot;abc&quot;" in page and "&quot;torch&quot;: &quot;x&quot;" in page


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (.ci/run installs it)")
def test_a_real_browser_shows_the_answer_and_draws_the_figures(corpus, tmp_path):
    train, valid = corpus
    config = build_config(overrides=dict(train_data=str(train), validation_data=str(valid), seq_len=16, budget_passes=4,
                                         unique_samples=(1, 4), eval_samples=2, seeds=(1,), output=str(tmp_path / "out")))
    outcome = run_study(config, echo=lambda line: None, progress=False)
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # A copy of the page that, once loaded, writes down how many of its images the browser decoded.
    probe = page.replace("</body>", "<script>addEventListener('load', () => document.body.dataset.drawn = "
                                    "[...document.images].filter(i => i.naturalWidth > 0).length)</script></body>")
    (tmp_path / "probe.html").write_text(probe, encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM, *BROWSER_FLAGS, "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         (tmp_path / "probe.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = result.stdout
    assert 'data-drawn="2"' in dom, result.stderr[-2000:]
    assert outcome.answer[0].startswith("In short: ") and outcome.answer[0].split(":")[0] in dom
    assert outcome.answer[2].split(":")[0] in dom  # "D=1 (4 epochs)"
    assert dom.count("<details>") == 2  # the provenance of both runs
    assert overflow(tmp_path / "out" / "report.html", tmp_path) == []


def overflow(report, tmp_path) -> list[str]:
    """What sticks out to the right of a 1280-px window when Chromium draws ``report`` (nothing, when it fits)."""
    probe = report.read_text(encoding="utf-8").replace("</body>", (
        "<script>addEventListener('load', () => document.body.dataset.wide = [document.documentElement, "
        "...document.querySelectorAll('table, pre, img, li, p')].filter(e => e.scrollWidth > e.clientWidth + 1 || "
        "e.getBoundingClientRect().right > innerWidth + 1).map(e => e.tagName + ':' + e.scrollWidth).join(' ') "
        "|| 'none')</script></body>"))
    (tmp_path / "wide.html").write_text(probe, encoding="utf-8")
    result = subprocess.run([CHROMIUM, *BROWSER_FLAGS, "--window-size=1280,900", "--virtual-time-budget=5000",
                             f"--user-data-dir={tmp_path / 'wide-profile'}", "--dump-dom", (tmp_path / "wide.html").as_uri()],
                            capture_output=True, text=True, timeout=120)
    found = re.search(r'data-wide="([^"]*)"', result.stdout)
    assert found, result.stderr[-2000:]
    return [] if found.group(1) == "none" else found.group(1).split()


def test_the_terminal_gets_the_answer_without_markdown_emphasis():
    from isoflop.report.markdown import plain

    assert plain("**The scaling law**: L*(C) = 2.1") == "The scaling law: L*(C) = 2.1"


def test_run_tables_label_both_parameter_counts_with_total_first():
    from helpers import record
    from isoflop.report.tables import run_table

    for kind in ("isoflops", "pretrain"):
        table = run_table(kind, [record(parameters=8208, non_embedding_parameters=522)])
        total, other = table.header.index("N total"), table.header.index("N non-emb.")
        assert total < other and (table.rows[0][total], table.rows[0][other]) == ("8,208", "522")
        assert "N" not in table.header


def test_a_zero_width_interval_is_said_to_be_none():
    from types import SimpleNamespace

    from isoflop.report.isoflops import _interval

    assert _interval(SimpleNamespace(exponent_interval=(0.635, 0.635))).startswith(" (no interval: every resample")
    assert _interval(SimpleNamespace(exponent_interval=(0.5, 0.7))) == " [0.500, 0.700]"
