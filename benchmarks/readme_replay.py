"""Run the README's commands in order, as written, in a fresh clone: each command's exit status, time and last line.

    python benchmarks/readme_replay.py [--keep]

The clone is of this repository's HEAD (commit first), in a temporary folder with its own virtual environment.
Two substitutions, printed: the install line's CPU wheel index is replaced by this machine's CPU build of torch
(``pip install torch==2.13.0``; the index cannot be reached offline), and commands that need what this machine
does not have are skipped with the reason: the ``classic`` and ``gpu`` presets (the Hub) and the SLURM
example (a cluster with a partition named gpu; ``tests/test_slurm.py`` runs the same path on a real one-node
cluster). Exit status 1 if any command failed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "pip install torch==2.13.0 && pip install -e '.[test]'"
SKIPS = {
    "--preset classic": "needs the Hub: distilgpt2 and wikitext-2-v1 (the README says so)",
    "--preset gpu": "needs the Hub's WikiText-103 and a GPU",
    "--executor slurm": "needs a SLURM cluster with a partition named gpu (tests/test_slurm.py runs this path)",
    "'.[slurm]'": "goes with the SLURM example",
}


def commands(readme: str) -> list[str]:
    """The lines of the README's bash blocks, in order, without their comments."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", readme, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line:
                lines.append(line)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (its folder is printed)")
    keep = parser.parse_args().keep
    folder = Path(tempfile.mkdtemp(prefix="isoflop-readme-"))
    clone = folder / "isoflop"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True).stdout.strip()
    print(f"README of commit {head}, replayed in {clone}\n")
    print("| # | command | exit | seconds | last line |\n|---|---|---|---|---|")
    failed = 0
    for number, command in enumerate(commands((clone / "README.md").read_text(encoding="utf-8")), start=1):
        skip = next((reason for marker, reason in SKIPS.items() if marker in command), None)
        if skip:
            print(f"| {number} | `{command}` | skipped | | {skip} |")
            continue
        run = command
        if "pip install torch --index-url" in command:
            run = f"python3 -m venv .venv && . .venv/bin/activate && {INSTALL}"
        shell = run if run.startswith("python3 -m venv") else f". .venv/bin/activate && {run}"
        started = time.perf_counter()
        done = subprocess.run(["bash", "-c", shell], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        output = (done.stdout.strip() or done.stderr.strip()).splitlines()
        last = output[-1][:120].replace("|", "\\|") if output else ""
        shown = command if run == command else f"{command}` → `{run}"
        print(f"| {number} | `{shown}` | {done.returncode} | {seconds:.0f} | {last} |", flush=True)
        if done.returncode != 0:
            failed += 1
            print(f"--- {command}\n{(done.stdout + done.stderr)[-3000:]}", file=sys.stderr)
    if keep:
        print(f"\nkept: {clone}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{failed} command(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
