"""A one-node SLURM cluster for tests: munged, slurmctld and slurmd started here, in one folder.

Everything is private to the folder (munge key and socket, slurm.conf, state, spool, logs, free
ports), so nothing of the machine's own configuration is used or changed. The node is this
machine with the CPUs and memory ``slurmd -C`` reports; no accounting storage (``sacct`` fails,
as on many small clusters), ``proctrack/linuxproc`` and ``task/none`` (no cgroups needed).
The daemons need root and Debian's ``slurm-wlm`` and ``munge`` packages.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo",
            "srun")


class SlurmUnavailable(RuntimeError):
    """The daemons cannot be installed or started here (the reason is the message)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _node_line() -> str:
    """``NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..`` of this machine, from slurmd -C."""
    text = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=60).stdout
    line = next((ln for ln in text.splitlines() if ln.startswith("NodeName=")), None)
    if line is None:
        raise SlurmUnavailable(f"slurmd -C printed no node line: {text!r}")
    return line.strip()


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop` (also after a failed start)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.conf = self.folder / "slurm.conf"
        self.env = dict(os.environ, SLURM_CONF=str(self.conf))
        self._procs: list[subprocess.Popen] = []
        self.host = socket.gethostname().split(".")[0]

    # --- setup

    def missing(self) -> Optional[str]:
        """Why the cluster cannot run here, or None."""
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            return "slurmd and munged need root"
        absent = [b for b in BINARIES if shutil.which(b) is None]
        if absent:
            return (f"{', '.join(absent)} not installed (apt-get install slurm-wlm munge)")
        return None

    def _write_files(self) -> None:
        for sub in ("state", "spool", "munge", "log"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder / "munge", 0o700)
        key = self.folder / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o400)
        node = _node_line()
        memory = int(re.search(r"RealMemory=(\d+)", node).group(1))
        node = re.sub(r"RealMemory=\d+", f"RealMemory={max(1, memory - 256)}", node)
        f = self.folder
        self.conf.write_text("\n".join([
            "ClusterName=w2vtest",
            f"SlurmctldHost={self.host}(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={f}/munge/munge.socket",
            f"StateSaveLocation={f}/state",
            f"SlurmdSpoolDir={f}/spool",
            f"SlurmctldPidFile={f}/slurmctld.pid",
            f"SlurmdPidFile={f}/slurmd.pid",
            f"SlurmctldLogFile={f}/log/slurmctld.log",
            f"SlurmdLogFile={f}/log/slurmd.log",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "MpiDefault=none",
            "ReturnToService=2",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none",
            "JobCompType=jobcomp/none",
            # scancel: SIGTERM, then SIGKILL after this many seconds.
            "KillWait=5",
            "MinJobAge=600",
            "InactiveLimit=0",
            "SlurmdTimeout=60",
            "SchedulerParameters=sched_interval=1",
            f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
            f"PartitionName=test Nodes={node.split()[0].split('=')[1]} Default=YES "
            "MaxTime=INFINITE State=UP",
            "",
        ]))

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.folder / "log" / f"{name}.out", "wb")  # noqa: SIM115 - kept by Popen
        try:
            self._procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                                env=self.env, start_new_session=True))
        finally:
            log.close()

    def start(self, timeout: float = 60.0) -> None:
        """Start the daemons and wait until the node is idle; SlurmUnavailable if not."""
        why = self.missing()
        if why:
            raise SlurmUnavailable(why)
        self._write_files()
        m = self.folder / "munge"
        self._spawn("munged", ["munged", "-F", "-f", f"--socket={m}/munge.socket",
                               f"--key-file={m}/munge.key", f"--pid-file={m}/munged.pid",
                               f"--seed-file={m}/munged.seed", f"--log-file={m}/munged.log"])
        self._wait_for(lambda: (m / "munge.socket").exists(), 20, "munged socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self._node_name()])
        self._wait_for(self._idle, timeout, "node idle")

    def _node_name(self) -> str:
        return re.search(r"NodeName=(\S+)", self.conf.read_text()).group(1)

    def _idle(self) -> bool:
        for proc in self._procs:
            if proc.poll() is not None:
                raise SlurmUnavailable(f"{proc.args[0]} exited ({proc.returncode}); "
                                       f"logs:\n{self.logs()}")
        result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                env=self.env, timeout=30)
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def _wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.25)
        raise SlurmUnavailable(f"timed out waiting for {what}; logs:\n{self.logs()}")

    def logs(self) -> str:
        parts = []
        for path in [*sorted((self.folder / "log").glob("*")), self.folder / "munge/munged.log"]:
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    # --- use

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env,
                              timeout=60, check=check)

    def queued(self) -> list[str]:
        out = self.run("squeue", "-h", "-r", "-o", "%i", check=False).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def wait_until_empty(self, timeout: float = 60.0) -> None:
        """Wait until no job is listed any more (finished tasks linger briefly as COMPLETING)."""
        self._wait_for(lambda: not self.queued(), timeout, "an empty queue")

    # --- teardown

    def stop(self) -> None:
        """Cancel every job, stop the daemons (the ones started here, by process), keep no
        processes behind. The folder itself is left to its owner (pytest's tmp_path)."""
        if self.conf.exists() and self._procs:
            with contextlib.suppress(Exception):
                self.run("scancel", "--full", "--user", "root", check=False)
                deadline = time.monotonic() + 20
                while self.queued() and time.monotonic() < deadline:
                    time.sleep(0.5)
        for proc in reversed(self._procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=15)
        self._procs.clear()
