"""The shipped examples fit as examples/README.md says, read as they are; the simulated ones recover their truth."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from conftest import run_cli
from isoflop.fit.published import PUBLISHED

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("arguments, expected", [
    (("isoflops-default.csv", "--approach", "2", "--allocation-resamples", "20"), "N*(C) = 0.00116 · C^0.647"),
    (("isoflops-default-steps.csv", "--approach", "1"), "approach 1 on 220 points"),
    (("gigaword-finetune.csv", "--approach", "finetune", "--where", "model=gpt2", "--allocation-resamples", "20"),
     "fine-tuned loss L(D) at D = "),
])
def test_each_example_fits_as_its_readme_says(capsys, arguments, expected):
    code, out, err = run_cli(capsys, "fit", str(EXAMPLES / arguments[0]), *arguments[1:])
    assert code == 0, err
    assert expected in out
    assert f"`isoflop fit examples/{arguments[0]}" in (EXAMPLES / "README.md").read_text(encoding="utf-8")


def test_approach_3_on_the_default_ladder_is_refused_with_its_reasons_as_the_readme_says(capsys):
    code, _, err = run_cli(capsys, "fit", str(EXAMPLES / "isoflops-default.csv"), "--approach", "3", "--bootstrap", "10",
                           "--starts", "coarse")
    assert code != 0 and "no reliable law from these points" in err
    assert "`--approach 3` is refused" in (EXAMPLES / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow  # two fits and two drawings: the default tier stays under 3 minutes
def test_fit_draws_approach_2s_profiles_to_a_png_or_svg_and_refuses_what_it_cannot_draw(capsys, tmp_path):
    source = str(EXAMPLES / "isoflops-default.csv")
    for name in ("profiles.png", "profiles.svg"):
        code, _, err = run_cli(capsys, "fit", source, "--approach", "2", "--allocation-resamples", "10", "--plot",
                               str(tmp_path / name))
        assert code == 0 and f"plot: {tmp_path / name}" in err
    assert (tmp_path / "profiles.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "profiles.svg").read_text().lstrip().startswith("<?xml")
    code, _, err = run_cli(capsys, "fit", source, "--approach", "2", "--plot", str(tmp_path / "p.pdf"))
    assert code == 2 and "give a .png or .svg file" in err
    code, _, err = run_cli(capsys, "fit", str(EXAMPLES / "gigaword-finetune.csv"), "--approach", "finetune", "--plot",
                           str(tmp_path / "f.png"))
    assert code == 2 and "--plot draws approach 2" in err and not (tmp_path / "f.png").exists()


def test_an_export_reads_as_its_study_picked_by_where_and_an_edited_one_is_one_line(capsys, tmp_path):
    source = EXAMPLES / "isoflops-default-steps.csv"
    outputs = [run_cli(capsys, "fit", str(source), "--approach", "1", *where) for where in ((), ("--where", "seed=1"))]
    assert outputs[0][0] == 0 and outputs[0][1] == outputs[1][1]  # every run has seed 1
    for where, message in ((("--where", "seed=2"), "no run of"), (("--minima",), "--minima reads other tables")):
        code, _, err = run_cli(capsys, "fit", str(source), "--approach", "2", *where)
        assert code == 2 and message in err
    rows = list(csv.DictReader(source.read_text(encoding="utf-8").splitlines()))
    rows[0]["step"] = "ten"
    edited = tmp_path / "edited.csv"
    with edited.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    code, _, err = run_cli(capsys, "fit", str(edited), "--approach", "1")
    assert code == 2 and err.count("\n") == 1 and "a cell that cannot be read" in err
    edited.write_text(source.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "fit", str(edited), "--approach", "1")
    assert code == 2 and "an isoflop export holding no runs" in err


def simulator():
    spec = importlib.util.spec_from_file_location("simulate_published", EXAMPLES / "simulate_published.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_simulated_examples_are_what_their_script_writes(tmp_path):
    for path in simulator().write(tmp_path):
        assert path.read_bytes() == (EXAMPLES / path.name).read_bytes(), path.name


def covered(intervals: dict, truth: dict) -> dict:
    """Each parameter's interval against its true value: {name: (low, true, high)} where the interval misses."""
    return {name: (intervals[name][0], value, intervals[name][1]) for name, value in truth.items()
            if not intervals[name][0] <= value <= intervals[name][1]}


@pytest.mark.slow  # 1,200 starts and 200 resamples: 3 s; the default tier stays under 3 minutes
def test_approach_3_recovers_the_published_chinchilla_law_from_its_simulated_runs(capsys):
    code, out, err = run_cli(capsys, "fit", str(EXAMPLES / "chinchilla-simulated.csv"), "--approach", "3", "--bootstrap",
                             "200", "--json")
    assert code == 0, err
    result, law = json.loads(out), PUBLISHED["chinchilla"].law
    truth = {"E": law.E, "A": law.A, "B": law.B, "alpha": law.alpha, "beta": law.beta}
    assert covered(result["law"]["intervals"], truth) == {}


@pytest.mark.slow  # a joint fit of seven parameters with its profile: 8 s
def test_the_data_constrained_fit_recovers_the_published_datablations_law_from_its_simulated_runs(capsys):
    code, out, err = run_cli(capsys, "fit", str(EXAMPLES / "datablations-simulated.csv"), "--approach", "constrained",
                             "--bootstrap", "200", "--json")
    assert code == 0, err
    result, law = json.loads(out), PUBLISHED["datablations"].law
    truth = {"E": law.E, "A": law.A, "B": law.B, "alpha": law.alpha, "beta": law.beta, "R_D_star": law.r_d_star,
             "R_N_star": law.r_n_star}
    assert covered(result["constrained"]["intervals"], truth) == {}
