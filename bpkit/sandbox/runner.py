"""The grader's side of the sandbox: a pool of pre-forked workers and one isolated run per submission.

``Worker.run(job, timeout, memory_mb)`` sends a submission's cells and cases to the worker, reads the child's
result frames (at most ``protocol.MAX_OUTPUT`` bytes, never waiting past the timeout plus a grace period) and
returns a ``RawRun``: the frames that parsed, what went wrong with the stream if anything, and how the child ended.
A worker that stops answering is killed and replaced; the submission it was running is reported, not lost.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

from . import protocol

GRACE = 5.0           # seconds the grader waits beyond the timeout before it gives up on a worker
START_TIMEOUT = 120.0


@dataclass
class RawRun:
    """What a child did, before any grading: frames in order, and how it ended."""

    frames: list = field(default_factory=list)      # [(header dict, arrays dict)]
    problem: str = ""             # a malformed or oversized result stream, in words
    exit_code: int | None = None
    signal: int | None = None
    timed_out: bool = False
    lost: bool = False            # the worker itself failed; the run did not complete
    wall: float = 0.0
    cpu: float = 0.0


class WorkerError(RuntimeError):
    """A worker could not start (e.g. an unknown exercise) or died; the message says why."""


def worker_environment() -> dict[str, str]:
    """The worker's environment: nothing of the instructor's but PATH (no secret, no tokens)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1"}


class Worker:
    """One pre-forked worker process (see ``worker.py``)."""

    def __init__(self, exercise_id: str, wait: bool = True, rundir: str | None = None):
        self.exercise_id = exercise_id
        self.rundir = rundir          # where the worker makes its scratch folders (the grader removes it)
        self.closing = False
        self.proc = None
        self.info: dict = {}
        self.spawn()
        if wait:
            self.wait_ready()

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the worker process (it loads numpy, sympy and the exercise; see ``wait_ready``)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock = ours
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-m", "bpkit.sandbox.worker", self.exercise_id, str(theirs.fileno()),
             str(os.getpid())] + ([str(self.rundir)] if self.rundir else []),
            pass_fds=[theirs.fileno()], env=worker_environment(), cwd="/", stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, start_new_session=True)
        theirs.close()

    def wait_ready(self) -> None:
        """Wait for the worker's hello; raise WorkerError with its reason if it could not start."""
        self.info = self._receive(START_TIMEOUT) or {}
        if not self.info.get("ready"):
            self.close()
            raise WorkerError(self.info.get("error", "the grading worker did not start"))

    def _receive(self, timeout: float) -> dict | None:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not ready:
                return None
            data = self.sock.recv(1 << 16)
        except (OSError, ValueError):     # the socket was closed under us (the grader is shutting down)
            return None
        return json.loads(data) if data else None

    def run(self, job: bytes, timeout: float, memory_mb: float, max_output: int = protocol.MAX_OUTPUT) -> RawRun:
        """Run one submission (``job`` is a frame made by ``protocol.make_frame``)."""
        job_r, job_w = os.pipe()
        res_r, res_w = os.pipe()
        started = time.monotonic()
        run = RawRun()
        try:
            socket.send_fds(self.sock, [json.dumps({"timeout": timeout, "memory_mb": memory_mb,
                                                         "max_output": max_output}).encode()],
                            [job_r, res_w])
        except OSError:
            for fd in (job_r, job_w, res_r, res_w):
                os.close(fd)
            return self._lost(run, "the grading worker was not running")
        os.close(job_r)
        os.close(res_w)
        hello = self._receive(GRACE)
        pid = hello.get("pid") if hello else None
        deadline = started + timeout + GRACE
        data, run.problem, finished = _pump(job_w, job, res_r, deadline, max_output)
        status = self._receive(deadline - time.monotonic()) if finished else None
        if status is None:
            if pid:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
            self._lost(run, "the grading worker stopped answering")
        else:
            run.exit_code, run.signal = status["exit_code"], status["signal"]
            run.timed_out, run.wall, run.cpu = status["timed_out"], status["wall"], status["cpu"]
        frames, problem = protocol.parse_frames(data, max_output)
        run.frames = frames
        run.problem = run.problem or problem
        return run

    def _lost(self, run: RawRun, why: str) -> RawRun:
        run.lost, run.problem = True, why
        if not self.closing:           # replace it, unless the grader is shutting down
            self._stop()
            self.start()
        return run

    def close(self) -> None:
        """Stop the worker for good (its running child, if any, dies with it: PR_SET_PDEATHSIG)."""
        self.closing = True
        self._stop()

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait()
        self.sock.close()


def _pump(job_w: int, job: bytes, res_r: int, deadline: float, limit: int) -> tuple[bytes, str, bool]:
    """Write the job and read results at once (no deadlock on big payloads); returns (data, problem, eof)."""
    os.set_blocking(job_w, False)
    pending = memoryview(job)
    chunks, size, problem = [], 0, ""
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks), problem or "the submission did not stop in time", False
            writers = [job_w] if pending else []
            readable, writable, _ = select.select([res_r], writers, [], left)
            if writable:
                try:
                    pending = pending[os.write(job_w, pending[:1 << 16]):]
                except BlockingIOError:
                    pass
                except BrokenPipeError:      # the child died before reading its job
                    pending = pending[:0]
                if not pending:
                    os.close(job_w)
                    job_w = -1
            if readable:
                chunk = os.read(res_r, 1 << 20)
                if not chunk:
                    return b"".join(chunks), problem, True
                if size + len(chunk) > limit + protocol.MAX_HEADER:
                    problem = f"the submission sent more than {limit / 2**20:g} MB of output"
                    continue   # keep draining (discarding) until the worker kills or the child ends
                chunks.append(chunk)
                size += len(chunk)
    finally:
        if job_w >= 0:
            os.close(job_w)
        os.close(res_r)
