"""A `qa serve` child process on a free loopback port: for benchmarks and tests that need a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """Starts `python -m qa_cli serve` with extra environment; its output goes to `log_path` (or nowhere)."""

    def __init__(self, env: dict[str, str] | None = None, log_path: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w") if log_path else None
        full_env = {**os.environ, **(env or {}), "QA_PORT": str(self.port), "QA_HOST": "127.0.0.1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa_cli", "serve"],
            cwd=ROOT,
            env=full_env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    def _log_tail(self) -> str:
        if self.log_path is None:
            return "run `qa serve` to see why"
        return "log: " + self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]

    def wait_ready(self, timeout: float = 300.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited during start-up; {self._log_tail()}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the server was not ready within {timeout:g}s; {self._log_tail()}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then wait for the graceful shutdown; returns the exit code."""
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self._log:
                self._log.close()


def kill_an_answering_replica() -> int:
    """SIGKILL one answering replica of a local `qa serve --replicas N` (a crash: no drain, questions in hand
    lost unless the ingress asks again). Returns its pid; RuntimeError when none runs on this machine."""
    import signal

    listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    pids = sorted(int(line.split()[0]) for line in listing.splitlines() if "ServeReplica:newsqa:Answerer" in line)
    if not pids:
        raise RuntimeError("no answering replica (ray::ServeReplica:newsqa:Answerer) runs on this machine")
    os.kill(pids[0], signal.SIGKILL)
    return pids[0]
