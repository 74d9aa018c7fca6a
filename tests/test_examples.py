"""The shipped examples fit as examples/README.md says, read as they are."""

from pathlib import Path

import pytest

from conftest import run_cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("arguments, expected", [
    (("isoflops-default.csv", "--approach", "2", "--allocation-resamples", "20"), "N*(C) = "),
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
