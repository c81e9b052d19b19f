"""The limits a grading child puts on itself before it runs a line of student code.

In order (``confine(...)``, called in the freshly forked child):

0. a network namespace of its own, with nothing but a loopback that is down (``netns.py``), when this machine
   allows one (the worker probes it once and reports it);
1. a clean environment (no ``--seed``, no instructor variables; one BLAS thread; ``HOME``/``TMPDIR`` = its workdir);
2. resource limits: RLIMIT_AS (memory), RLIMIT_CPU (a backstop to the parent's wall-clock SIGKILL), RLIMIT_FSIZE,
   RLIMIT_NOFILE, no core files, and RLIMIT_NPROC (so a fork loop hits a ceiling);
3. when the grader runs as root: switch to a uid of its own (``3_000_000_000 + pid``), because the kernel never
   applies RLIMIT_NPROC to root, and so a fork loop's processes are this child's alone. If the Python installation
   is not readable by other users (e.g. under ``/root``), the child keeps exactly one capability,
   CAP_DAC_READ_SEARCH, to read it; Landlock still limits *which* files it may read;
4. Landlock (see ``landlock.py``): read-only access to the Python installation minus ``bpkit``; read-write access to
   the workdir only; no TCP; no signals outside its own domain.

What is NOT isolated: the child shares the machine's kernel, CPU and disk bandwidth with everything else (the limits
bound how much of them it takes, not who else it slows), it can read the Python installation (minus ``bpkit``),
and it can see other processes' ids in ``/proc`` (Landlock stops it reading their files and signalling them).

Everything is best effort where the platform lacks a feature, and ``isolation_report()`` says what is in force.
"""
from __future__ import annotations

import ctypes
import os
import resource
import stat
import sys
from pathlib import Path

from . import landlock, netns

SANDBOX_UID_BASE = 3_000_000_000
NPROC_ALLOWANCE = 32           # processes (and threads) a submission may start before fork fails
FSIZE_LIMIT = 64 * 2**20       # largest file a submission may write, bytes
NOFILE_LIMIT = 256
_CAP_DAC_READ_SEARCH = 2
_PR_SET_KEEPCAPS = 8
_PR_SET_PDEATHSIG = 1
_CAP_VERSION_3 = 0x20080522

SYSTEM_LIBS = ("/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
               "/etc/localtime", "/usr/share/zoneinfo", "/dev/urandom", "/dev/zero")


def clean_environment(workdir: str) -> dict[str, str]:
    """The only environment variables a submission sees (the instructor's are all dropped)."""
    return {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg", "PLOTLY_RENDERER": "json", "PYTHONDONTWRITEBYTECODE": "1"}


def python_read_paths() -> list[str]:
    """Directories the child may read: the interpreter's library and site-packages, never the ``bpkit`` package.

    A ``sys.path`` entry that holds ``bpkit`` itself (a regular install) is opened up entry by entry, leaving
    ``bpkit`` out; an editable install keeps ``bpkit`` in the project folder, which is never on the list.
    """
    bpkit_dir = Path(__file__).resolve().parents[1]
    paths: list[str] = []
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)}
    roots = [p for p in sys.path if p and os.path.isdir(p)]
    roots += [os.path.join(sys.base_prefix, "lib"), os.path.join(sys.prefix, "lib")]
    # only what lies inside the Python installation: never the current folder, "/" or a project folder
    roots = [r for r in roots if any(Path(r).resolve().is_relative_to(p) and Path(r).resolve() != p
                                     for p in prefixes)]
    for root in roots:
        for path in _tree_without(Path(root).resolve(), bpkit_dir):
            if path not in paths:
                paths.append(path)
    return paths + [p for p in SYSTEM_LIBS if os.path.exists(p)]


def _tree_without(root: Path, excluded: Path) -> list[str]:
    """``root`` itself, or (when ``excluded`` lies below it) its entries minus the way to ``excluded``."""
    if root == excluded or root.is_relative_to(excluded):
        return []
    if not excluded.is_relative_to(root):
        return [str(root)]
    out: list[str] = []
    for entry in sorted(root.iterdir()):
        out += _tree_without(entry.resolve(), excluded)
    return out


def needs_read_capability(paths) -> bool:
    """True when another user could not reach one of ``paths`` (a parent folder lacks the x bit for others)."""
    for path in paths:
        for folder in [Path(path), *Path(path).parents]:
            try:
                mode = os.stat(folder).st_mode
            except OSError:
                break
            if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
                return True
    return False


def count_tasks(uid: int) -> int:
    """Threads currently owned by ``uid`` (what RLIMIT_NPROC counts); 0 where /proc is unavailable."""
    total = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status", "rb") as fh:
                    fields = dict(line.split(b":", 1) for line in fh.read().splitlines() if b":" in line)
                if int(fields[b"Uid"].split()[0]) == uid:
                    total += int(fields[b"Threads"])
            except (OSError, KeyError, ValueError):
                continue
    return total


def set_limits(memory_mb: float, cpu_seconds: float, nproc: int) -> None:
    """Apply the resource limits; RLIMIT_AS is ``memory_mb`` on top of what the process already maps."""
    baseline = _mapped_bytes()
    _setrlimit(resource.RLIMIT_AS, int(baseline + memory_mb * 2**20))
    cpu = int(cpu_seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _setrlimit(resource.RLIMIT_FSIZE, FSIZE_LIMIT)
    _setrlimit(resource.RLIMIT_NOFILE, NOFILE_LIMIT)
    _setrlimit(resource.RLIMIT_CORE, 0)
    _setrlimit(resource.RLIMIT_NPROC, nproc)


def _setrlimit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 512 * 2**20


def drop_root(uid: int, keep_read_capability: bool) -> None:
    """As root: become ``uid`` (and gid ``uid``, no groups); keep CAP_DAC_READ_SEARCH only if asked."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if keep_read_capability:
        libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setresuid(uid, uid, uid)
    if keep_read_capability:
        header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
        bit = 1 << _CAP_DAC_READ_SEARCH
        data = (ctypes.c_uint32 * 6)(bit, bit, 0, 0, 0, 0)   # effective, permitted, inheritable x 2 words
        if libc.capset(header, data) != 0:
            raise OSError(ctypes.get_errno(), "capset(CAP_DAC_READ_SEARCH)")


def confine(workdir: str, memory_mb: float, cpu_seconds: float, read_paths: list[str],
            keep_read_capability: bool, landlock_abi: int, network: str = "") -> dict:
    """Apply everything above to the calling (child) process; return what is in force.

    ``network`` is the way the worker's probe isolated the network (``netns.probe``), or "" where it could not:
    when the probe succeeded, failing here raises (the submission is not run without the wall the run reports).
    """
    os.environ.clear()
    os.environ.update(clean_environment(workdir))
    report = {"uid": os.getuid(), "landlock": 0, "nproc": None, "netns": ""}
    tasks = count_tasks(os.getuid()) if os.geteuid() != 0 else 0
    if network:
        report["netns"] = netns.isolate()
    if os.geteuid() == 0 and not report["netns"].startswith("userns"):
        uid = SANDBOX_UID_BASE + os.getpid()
        os.chown(workdir, uid, uid)
        set_limits(memory_mb, cpu_seconds, NPROC_ALLOWANCE)
        drop_root(uid, keep_read_capability)
        report.update(uid=uid, nproc=NPROC_ALLOWANCE)
    else:
        nproc = tasks + NPROC_ALLOWANCE
        set_limits(memory_mb, cpu_seconds, nproc)
        report["nproc"] = nproc
    report["landlock"] = landlock.restrict(read_paths, [workdir, "/dev/null"], abi=landlock_abi)
    return report


def die_with_parent(parent_pid: int) -> None:
    """Be killed when the worker dies (Linux PR_SET_PDEATHSIG), so no child outlives an interrupted grader."""
    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "prctl"):
        libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0)
    if os.getppid() != parent_pid:      # the worker died before the line above took effect
        os._exit(75)


def isolation_report(landlock_abi: int, network: str = "", network_problem: str = "") -> str:
    """One line for the instructor: which protections this machine provides."""
    parts = ["child process per submission", "rlimits (memory, CPU, file size, processes)"]
    if network:
        parts.append(f"own network namespace per submission ({network}: only a loopback that is down; no UDP, "
                     "TCP, DNS or raw socket leaves it)")
    else:
        tcp = "UDP, DNS and raw sockets" if landlock_abi >= 4 else "UDP, TCP, DNS and raw sockets"
        parts.append(f"NETWORK NOT ISOLATED (no network namespace: {network_problem or 'not available'}): a "
                     f"submission can send data, its hidden inputs included, over {tcp} to any address this "
                     "machine reaches")
    if os.geteuid() == 0:
        parts.append("own uid per submission")
    if landlock_abi >= 1:
        parts.append(f"Landlock ABI {landlock_abi} (files{', TCP' if landlock_abi >= 4 else ''}"
                     f"{', signals' if landlock_abi >= 6 else ''})")
    else:
        parts.append("NO Landlock: a submission can read any file the grader can read")
    return "; ".join(parts)
