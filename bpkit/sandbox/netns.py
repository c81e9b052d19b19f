"""A network namespace of its own for each grading child: no interface but a loopback that is down.

Landlock (ABI 4+) refuses TCP ``bind``/``connect``, but it has no rule for UDP, raw sockets or DNS: a graded
function could send its hidden inputs to any address the grading machine reaches (a listener on 127.0.0.1, a DNS
query to a server the student watches) and hard-code the answers in a resubmission. A new network namespace closes
all of it at once: the child's only interface is a loopback that is down, so every send fails with "network is
unreachable" whatever the protocol or address, and the grader's own loopback (127.0.0.1 outside) is not the
child's.

- As root: ``unshare(CLONE_NEWNET)`` (CAP_SYS_ADMIN is needed; the child drops root afterwards).
- Not root: ``unshare(CLONE_NEWUSER | CLONE_NEWNET)`` where unprivileged user namespaces are allowed; the child
  maps its own uid and gid into the new user namespace, so it is still the same user, and its capabilities there
  reach nothing outside (they do not lift RLIMIT_NPROC, which the kernel checks against the initial namespace).

``probe()`` runs the same steps in a throw-away fork so the worker can report, before any submission runs, whether
the network is isolated on this machine; ``isolate()`` does it for real in the child.
"""
from __future__ import annotations

import ctypes
import os

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def _unshare(flags: int) -> None:
    unshare = getattr(os, "unshare", None)          # Python >= 3.12
    if unshare is not None:
        unshare(flags)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "unshare"):
        raise OSError(38, "unshare is not available on this system")
    if libc.unshare(ctypes.c_int(flags)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def isolate() -> str:
    """Move the calling (single-threaded) process into a new, empty network namespace.

    Returns how (``"netns"`` as root, ``"userns+netns"`` otherwise); raises OSError when the kernel refuses.
    """
    if os.geteuid() == 0:
        _unshare(CLONE_NEWNET)
        return "netns"
    uid, gid = os.geteuid(), os.getegid()
    _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    try:                    # stay the same user inside (unmapped ids would read as 65534)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        pass
    return "userns+netns"


def interfaces() -> list[tuple[str, bool]]:
    """``(name, up)`` for each network interface the calling process sees (from /sys/class/net)."""
    out = []
    try:
        names = sorted(os.listdir("/sys/class/net"))
    except OSError:
        return out
    for name in names:
        try:
            with open(f"/sys/class/net/{name}/flags") as fh:
                out.append((name, bool(int(fh.read(), 16) & 1)))
        except (OSError, ValueError):
            out.append((name, False))
    return out


def probe() -> tuple[str, str]:
    """Try ``isolate()`` in a throw-away fork: ``(mode, "")`` when it works here, ``("", reason)`` when not."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            message = "ok " + isolate()
        except OSError as exc:
            message = f"no {exc.strerror or exc}"
        except BaseException as exc:  # noqa: BLE001
            message = f"no {type(exc).__name__}"
        try:
            os.write(w, message.encode()[:400])
        finally:
            os._exit(0)
    os.close(w)
    try:
        data = b""
        while chunk := os.read(r, 512):
            data += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    text = data.decode(errors="replace")
    if text.startswith("ok "):
        return text[3:], ""
    return "", text[3:] or "the probe process died"
