"""Two study folders side by side: the difference at each shared point, paired by seed, in one line and a report."""

import pytest

from conftest import run_cli
from helpers import record
from isoflop.results.store import Store


def folder_of(path, losses: dict[tuple[int, int], float]):
    """A scarcity study folder holding one completed run per (D, seed) with the given final loss."""
    with Store(path) as store:
        store.ensure_study("s", "scarcity", {"study": "scarcity"})
        for (d, seed), loss in losses.items():
            store.save(record(f"k{d}-{seed}", label=f"D={d} seed={seed}", grid={"unique_samples": d}, seed=seed,
                              unique_samples=d, final_val_loss=loss))
    (path / "summary.md").write_text(f"# t\n\n## Answer\n\n- In short: **{path.name}** answers.\n- more\n")
    return path


@pytest.fixture
def pair(tmp_path):
    slow = folder_of(tmp_path / "slow", {(1, 1): 3.0, (1, 2): 3.2, (4, 1): 2.5, (4, 2): 2.6, (8, 1): 2.4})
    fast = folder_of(tmp_path / "fast", {(1, 1): 2.9, (1, 2): 3.05, (4, 1): 2.5, (4, 2): 2.61, (2, 1): 2.7})
    return slow, fast


def test_compare_pairs_each_shared_point_by_seed_and_writes_a_report(pair, tmp_path, capsys):
    slow, fast = pair
    code, out, err = run_cli(capsys, "compare", str(slow), str(fast), "--output", str(tmp_path / "cmp"))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == ("In short: over 2 shared point(s), fast ends lower than slow by up to 0.1250 nats (at D=1); "
                        "0 of them beyond the seed spread.")
    assert "slow: In short: slow answers." in lines and "fast: In short: fast answers." in lines
    rows = {line.split()[0]: line for line in lines if line.startswith("D=")}
    assert set(rows) == {"D=1", "D=4"} and "-0.1250" in rows["D=1"] and "+0.0050" in rows["D=4"]
    summary = (tmp_path / "cmp" / "summary.md").read_text()
    assert "D=8 only in slow" in summary and "D=2 only in fast" in summary
    assert {p.name for p in (tmp_path / "cmp").iterdir()} >= {"report.html", "summary.md", "compare_final_loss.png"}


def test_compare_refuses_folders_with_nothing_to_compare_in_one_line(pair, tmp_path, capsys):
    slow, _ = pair
    other = folder_of(tmp_path / "other", {(16, 1): 2.0})
    code, _, err = run_cli(capsys, "compare", str(slow), str(other), "--output", str(tmp_path / "cmp"))
    assert code == 2 and "share no grid point (the same D); nothing to compare" in err
    code, _, err = run_cli(capsys, "compare", str(slow), str(tmp_path / "none"), "--output", str(tmp_path / "cmp"))
    assert code == 2 and "holds no isoflop results" in err
    assert not (tmp_path / "cmp").exists()
