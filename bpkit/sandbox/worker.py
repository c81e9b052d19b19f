"""The pre-forked grading worker: numpy and sympy loaded once, one fork per submission.

Started by the grader as ``python -m bpkit.sandbox.worker EXERCISE FD GRADER_PID`` in a clean environment (so it never sees the
secret seed), it talks over a SOCK_SEQPACKET socket (fd FD): the grader sends a small JSON job header with two file
descriptors attached (the job pipe's read end, the result pipe's write end); the worker forks a child
(``child.run``) that reads the job and writes results on those pipes directly, so the job data never passes through
the worker. The worker enforces the wall-clock timeout with SIGKILL of the child's process group, then kills every
process the child left behind (it is a child subreaper, so orphans come back to it; as root it also sweeps the
child's private uid), removes the child's workdir and reports ``{"exit_code", "signal", "timed_out", "wall",
"cpu"}``.
"""
from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

_PR_SET_CHILD_SUBREAPER = 36
PRELOAD = ("numpy", "sympy")
OPTIONAL_PRELOAD = ("plotly.graph_objects", "plotly.io", "ipywidgets",   # what exercise notebooks often import
                    "encodings.idna")   # (and what socket imports lazily for a host name)


def _noop(*args, **kwargs):
    return None


def _warm_plotly() -> None:
    """Load plotly's validators once here, not in every child, and make ``fig.show()`` a no-op.

    A notebook that draws figures would otherwise pay ~0.3 s of imports per child for the figures and
    ~2 s for ``show()`` (which renders the figure to JSON for nobody to see).
    """
    try:
        import plotly.basedatatypes
        import plotly.graph_objects as go
        import plotly.io
    except ImportError:
        return
    fig = go.Figure([go.Scatter(x=[0], y=[0]), go.Heatmap(z=[[0]]), go.Contour(z=[[0]]), go.Bar(x=[0], y=[0]),
                     go.Histogram(x=[0]), go.Surface(z=[[0]]), go.Scatter3d(x=[0], y=[0], z=[0])])
    fig.update_layout(title="warm-up", xaxis_title="x", yaxis_title="y")
    plotly.basedatatypes.BaseFigure.show = _noop
    plotly.io.show = _noop


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    exercise_id, fd = argv[0], int(argv[1])     # argv[2], if given: the grader's pid; argv[3]: a run folder
    sock = socket.socket(fileno=fd)
    try:
        for name in PRELOAD:
            __import__(name)
        for name in OPTIONAL_PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        _warm_plotly()
        from . import child, confine, isolate, landlock, netns
        names, calls, warnings = isolate.isolated_calls(exercise_id)
        abi = landlock.abi_version()
        network, network_problem = netns.probe()
        read_paths = confine.python_read_paths()
        sandbox = {"read_paths": read_paths, "landlock_abi": abi, "worker_pid": os.getpid(), "network": network,
                   "keep_read_capability": os.geteuid() == 0 and confine.needs_read_capability(read_paths)}
        libc = ctypes.CDLL(None)
        if hasattr(libc, "prctl"):      # Linux: orphans of a submission come back to us, to be killed,
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
            libc.prctl(1, 9, 0, 0, 0)   # and we die (PR_SET_PDEATHSIG, SIGKILL) if the grader is killed
            if len(argv) > 2 and os.getppid() != int(argv[2]):
                return 1                # the grader is already gone
        # argv[3], if given: the grader's run folder, removed by the grader even if this worker is SIGKILLed
        base = tempfile.mkdtemp(prefix="bpkit-grade-", dir=argv[3] if len(argv) > 3 else None)
        os.chmod(base, 0o711)
    except Exception as exc:  # noqa: BLE001 - report why the worker cannot start, then stop
        sock.send(json.dumps({"ready": False, "error": f"{type(exc).__name__}: {exc}"}).encode())
        return 1
    report = confine.isolation_report(abi, network, network_problem) + "".join(f"; WARNING {w}" for w in warnings)
    sock.send(json.dumps({"ready": True, "functions": names, "landlock": abi, "isolation": report}).encode())
    try:
        while True:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 16, 2)
            if not msg:
                return 0
            job = json.loads(msg)
            status = _run_job(job, fds, base, names, calls, sandbox, sock, child)
            sock.send(json.dumps(status).encode())
    except (BrokenPipeError, ConnectionResetError):
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_job(job, fds, base, names, calls, sandbox, sock, child) -> dict:
    job_r, res_w = fds
    workdir = tempfile.mkdtemp(dir=base)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        sock.close()
        child.run(job_r, res_w, workdir, names, calls, {**sandbox, "timeout": job["timeout"],
                                                        "memory_mb": job["memory_mb"],
                                                        "max_output": job["max_output"]})
    os.close(job_r)
    os.close(res_w)
    sock.send(json.dumps({"pid": pid}).encode())
    timed_out = not _wait_exit(pid, float(job["timeout"]))
    if timed_out:
        _kill_group(pid)
    _, wait_status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - started
    _kill_leftovers(pid)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"exit_code": os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None,
            "signal": os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None,
            "timed_out": timed_out, "wall": round(wall, 4), "cpu": round(usage.ru_utime + usage.ru_stime, 4)}


def _wait_exit(pid: int, timeout: float) -> bool:
    """True if ``pid`` exited within ``timeout`` seconds (it is not reaped here)."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
            time.sleep(0.005)
        return False
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(pidfd)


def _kill_group(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _kill_leftovers(pid: int) -> None:
    """Kill whatever the child started: its process group, then (the worker being a subreaper, every survivor's
    tree hangs below one of the worker's own children) orphans until none, and as root its private uid too."""
    _kill_group(pid)
    if not _my_children():
        return
    if os.geteuid() == 0:
        from .confine import SANDBOX_UID_BASE
        uid = SANDBOX_UID_BASE + pid
        sweeper = os.fork()
        if sweeper == 0:
            try:
                os.setresuid(uid, uid, uid)
                for _ in range(3):
                    os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(sweeper, 0)
    for _ in range(100):
        children = _my_children()
        for child_pid in children:
            try:
                os.kill(child_pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reaped = False
        while True:
            try:
                got, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                got = 0
            if not got:
                break
            reaped = True
        if not children and not reaped:
            return
        time.sleep(0.002)


def _my_children() -> list[int]:
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


if __name__ == "__main__":
    sys.exit(main())
