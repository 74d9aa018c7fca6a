"""The README is a guide: short, the three commands on its first screen, every page it links to present."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_and_starts_with_install_main_job_and_tests():
    lines = README.splitlines()
    assert len(lines) <= 400
    first_screen = "\n".join(lines[:40])
    for command in ("pip install -e '.[test]'", "isoflop scarcity ", "python -m pytest "):
        assert command in first_screen


def test_every_page_and_figure_the_docs_link_to_exists():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#]+)\)", text):
            if target.startswith("http"):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"
