"""What SLURM is asked and told: whether it is here, its partitions, which of our jobs are queued, a task's log.

Every question goes through SLURM's own client commands (``sinfo``, ``squeue``), so whatever cluster they reach
(``SLURM_CONF``, the login node's configuration) is the one isoflop submits to. Nothing here imports torch.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path

from ..errors import UsageError, first_line

CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol")
QUERY_SECONDS = 60
SUBMITIT_MISSING = "the slurm executor needs submitit, which is not installed: pip install 'isoflop[slurm]'"


def _command(*arguments: str) -> str:
    """A SLURM client's output; one line naming the command where it fails."""
    try:
        done = subprocess.run(arguments, capture_output=True, text=True, timeout=QUERY_SECONDS)
    except subprocess.TimeoutExpired:
        raise UsageError(f"SLURM did not answer '{' '.join(arguments)}' within {QUERY_SECONDS} s; is its controller "
                         "up? (try sinfo)") from None
    if done.returncode != 0:
        raise UsageError(f"SLURM refused '{' '.join(arguments)}': {first_line(Exception(done.stderr)) or 'no reason given'}")
    return done.stdout


def check_cluster(partition: str | None) -> None:
    """Before anything is submitted: SLURM's clients and submitit are here, the controller answers, the partition
    exists."""
    absent = [name for name in CLIENTS if shutil.which(name) is None]
    if absent:
        raise UsageError(f"SLURM is not installed here ({', '.join(absent)} not found on PATH): run the study on a "
                         "login node of the cluster, or choose another --executor")
    try:
        import submitit  # noqa: F401 - only whether it is installed
    except ImportError:
        raise UsageError(SUBMITIT_MISSING) from None
    partitions = [name.rstrip("*") for name in _command("sinfo", "-h", "-o", "%P").split()]
    if partition is not None and partition not in partitions:
        raise UsageError(f"SLURM has no partition {partition!r} (this cluster has: {', '.join(partitions) or 'none'}); "
                         "fix --slurm-partition")


def queued() -> dict[str, str]:
    """This user's jobs that SLURM still holds (pending, running, requeued, completing), one entry per array task:
    job id (``ARRAY_TASK``) → state."""
    lines = _command("squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T").splitlines()
    return dict(line.strip().split("|", 1) for line in lines if "|" in line)


def requeue(job: str) -> None:
    """Put a running task back in the queue (it resumes from its checkpoint when it starts again)."""
    _command("scontrol", "requeue", job)


SLURM_NOISE = ("srun:", "slurmstepd:", "submitit ")


def last_line(path: Path) -> str:
    """The last line a task's own code wrote to its log (its error, usually), past what srun, slurmstepd and
    submitit add after it; or a note that there is none."""
    try:
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "its log is missing"
    own = [line for line in lines if not line.startswith(SLURM_NOISE)]
    return (own or lines or ["its log is empty"])[-1]
