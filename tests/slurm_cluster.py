"""A one-node SLURM cluster in a temporary folder, for the tests of the slurm executor.

Debian's ``munge``, ``slurmctld`` and ``slurmd`` packages are enough: a fresh munge key, a generated
``slurm.conf`` (processes tracked by PID, no cgroups, state and spool in the folder) and the three daemons,
each started here and stopped by its own PID. Clients find the cluster through ``SLURM_CONF``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "scontrol", "scancel", "sinfo", "srun")
READY_SECONDS = 60.0
STOP_SECONDS = 3.0
PARTITION = "debug"


def missing() -> str | None:
    """Why no cluster can be started here, or None."""
    absent = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]
    if absent:
        return f"SLURM is not installed ({', '.join(absent)} missing): apt-get install slurmctld slurmd slurm-client munge"
    if os.geteuid() != 0:
        return "the test cluster's slurmd must run as root"
    if importlib.util.find_spec("submitit") is None:
        return "the slurm executor's package is not installed: pip install -e '.[slurm]'"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _daemon(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


@dataclass
class Cluster:
    """A running one-node cluster: its folder, the environment its clients need, the PIDs started here."""

    folder: Path
    env: dict[str, str]
    pids: list[int] = field(default_factory=list)

    def run(self, *command: str, check: bool = True) -> str:
        """A SLURM client command's output."""
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Every job cancelled, SIGTERM to each daemon started here, SIGKILL to any still there after
        ``STOP_SECONDS``, then to every process a job of this cluster left (a requeued task's step can outlive its
        slurmd): those whose environment names this cluster's ``SLURM_CONF``."""
        jobs = self.run("squeue", "-h", "-o", "%A", check=False).split()
        if jobs:
            self.run("scancel", *sorted(set(jobs)), check=False)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        from helpers import alive  # here, not at the top: a task imports this module for FailingEngine

        deadline = time.monotonic() + STOP_SECONDS
        while time.monotonic() < deadline and any(alive(pid) for pid in self.pids):
            time.sleep(0.05)
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in _started_under(self.env["SLURM_CONF"]):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _started_under(conf: str) -> list[int]:
    """Processes (not this one) whose environment names ``conf`` as SLURM_CONF: the cluster's jobs and daemons."""
    marker = f"SLURM_CONF={conf}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start(folder: Path) -> Cluster:
    """Start munged, slurmctld and slurmd in ``folder``; returns once the node is idle."""
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool", "log"):
        (folder / sub).mkdir(exist_ok=True)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    munge_socket = folder / "munge.socket"
    node = socket.gethostname()
    cpus = os.cpu_count() or 1
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=isoflop-test", f"SlurmctldHost={node}", "SlurmUser=root",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "AuthType=auth/munge", f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={folder / 'state'}", f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}", f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}", f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "MpiDefault=none", "ReturnToService=2", "JobRequeue=1",
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "SchedulerParameters=sched_interval=1", "MinJobAge=300", "KillWait=5", "InactiveLimit=0",
        f"NodeName={node} CPUs={cpus} State=UNKNOWN",
        f"PartitionName={PARTITION} Nodes={node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
        "",
    ]))
    env = dict(os.environ, SLURM_CONF=str(conf))
    cluster = Cluster(folder, env)
    try:
        munged = subprocess.Popen(
            [_daemon("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={munge_socket}",
             f"--pid-file={folder / 'munged.pid'}", f"--log-file={folder / 'log' / 'munged.log'}",
             f"--seed-file={folder / 'munge.seed'}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        cluster.pids.append(munged.pid)
        _wait(lambda: munge_socket.exists(), "munged did not create its socket")
        for daemon in ("slurmctld", "slurmd"):
            process = subprocess.Popen([_daemon(daemon), "-D"], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, start_new_session=True)
            cluster.pids.append(process.pid)
        _wait(lambda: "idle" in cluster.run("sinfo", "-h", "-o", "%t", check=False), "the node never became idle")
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _wait(ready, failure: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.2)


class FailingEngine:
    """An engine whose every pack fails with an error, wherever it runs (a task imports it from this module)."""

    name = "fast"

    def __init__(self, config):
        self.checkpoint_seconds = config.checkpoint_seconds

    def supports(self, models, vocab_size):
        return None

    def pack_limit(self, pack_run, data, runs):
        return 1

    def train(self, pack, data, on_step):
        raise RuntimeError("this engine always fails")
        yield
