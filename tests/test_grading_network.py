"""Issue 18: a submission cannot send anything out of its sandbox (UDP, TCP, DNS), as root or not.

A graded function that mails its hidden inputs to a listener on the grading machine would let a student hard-code
the answers. Each child runs in a network namespace of its own with only a loopback that is down; the function below
returns a WRONG answer if any of its sends succeeds, so full marks prove that every send failed inside the child,
and the listeners (in this test's own process, on 127.0.0.1) prove that nothing arrived.
"""
from __future__ import annotations

import ctypes
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bpkit import cli
from bpkit.exercises.catalog import get_exercise
from bpkit.sandbox import confine, netns
from grading_fixtures import BACKWARD, RELU, SIGMOID, write_notebook

EX = get_exercise("ex03")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform != "linux", reason="grading needs Linux")

LEAKY = '''
import numpy as np, socket

def linear_forward(x, W, b):
    escaped = []
    for attempt in ("udp", "tcp", "dns"):
        try:
            if attempt == "udp":
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.sendto(x.tobytes(), ("127.0.0.1", UDP_PORT))
            elif attempt == "tcp":
                s = socket.create_connection(("127.0.0.1", TCP_PORT), timeout=0.5)
                s.sendall(x.tobytes())
            else:
                socket.getaddrinfo("example.com", 53)
            escaped.append(attempt)
        except OSError:
            pass
    if escaped:
        return np.zeros((x.shape[0], W.shape[1]))   # a send worked: wrong answer, lost points
    return x @ W + b
'''


class Listeners:
    """A UDP and a TCP listener on 127.0.0.1 that record whatever reaches them."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.received: list = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._udp, daemon=True), threading.Thread(target=self._tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def _udp(self):
        self.udp.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.received.append(("udp", self.udp.recvfrom(1 << 16)[0]))
            except (socket.timeout, OSError):
                continue

    def _tcp(self):
        self.tcp.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
                self.received.append(("tcp", conn.recv(1 << 16)))
                conn.close()
            except (socket.timeout, OSError):
                continue

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join()
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def listeners():
    ls = Listeners()
    yield ls
    ls.close()


def leaky_class(folder: Path, listeners: Listeners) -> None:
    code = LEAKY.replace("UDP_PORT", str(listeners.udp.getsockname()[1])).replace(
        "TCP_PORT", str(listeners.tcp.getsockname()[1]))
    write_notebook(folder / "leaky.ipynb", code + BACKWARD + RELU + SIGMOID)


def test_the_listeners_do_hear_a_process_outside_the_sandbox(listeners):
    # the control: the same sends from this (unsandboxed) process arrive
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"hello", listeners.udp.getsockname())
    socket.create_connection(listeners.tcp.getsockname(), timeout=1).sendall(b"hello")
    for _ in range(50):
        if len(listeners.received) == 2:
            break
        threading.Event().wait(0.05)
    assert sorted(k for k, _ in listeners.received) == ["tcp", "udp"]


def test_udp_tcp_and_dns_sends_fail_inside_the_sandbox_and_nothing_arrives(tmp_path, listeners, capsys):
    mode, why = netns.probe()
    if not mode:
        pytest.skip(f"this machine cannot make a network namespace ({why}); bpkit grade reports it (tested below)")
    folder, out = tmp_path / "class", tmp_path / "out"
    leaky_class(folder, listeners)
    code = cli.main(["grade", "--exercise", "ex03", str(folder), "--out", str(out), "-j", "1", "--timeout", "10",
                     "--seed", "network-secret-1234", "--progress", "off"])
    assert code == 0
    doc = json.loads((out / "grades.json").read_text())
    student = doc["students"][0]
    assert (student["score"], student["status"]) == (EX.max_points, "ok"), student["message"]
    assert listeners.received == []
    assert any("own network namespace per submission" in line for line in doc["isolation"])
    assert "own network namespace per submission" in capsys.readouterr().err
    assert "own network namespace per submission" in (out / "summary.html").read_text()


def test_a_machine_without_network_namespaces_says_so_everywhere():
    line = confine.isolation_report(4, "", "Operation not permitted")
    assert "NETWORK NOT ISOLATED" in line and "Operation not permitted" in line and "UDP" in line
    assert "TCP" in confine.isolation_report(0, "", "x").split("NETWORK NOT ISOLATED")[1]
    from bpkit.grading import gradebook, summary
    from bpkit.grading.records import Result
    r = Result(student="ann", exercise="ex03", max_score=EX.max_points, isolation=line)
    assert json.loads(gradebook.grades_json(EX, [r]))["isolation"] == [line]
    assert "NETWORK NOT ISOLATED" in summary.render(EX, [r])


# ---- the same as a grader that is not root ----------------------------------------------------------------------
NON_ROOT_UID = 4242
_PR_SET_KEEPCAPS, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH = 8, 47, 2, 2


def _become_non_root():      # runs in the forked child before exec: uid 4242, keeping only the right to read files
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)
    os.setgroups([])
    os.setresgid(NON_ROOT_UID, NON_ROOT_UID, NON_ROOT_UID)
    os.setresuid(NON_ROOT_UID, NON_ROOT_UID, NON_ROOT_UID)
    bit = 1 << _CAP_DAC_READ_SEARCH
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)(bit, bit, bit, 0, 0, 0)
    if libc.capset(header, data) != 0 or libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, _CAP_DAC_READ_SEARCH,
                                                     0, 0) != 0:
        os._exit(97)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="the test switches to a non-root uid, which needs root (run as non-root, the test above "
                           "already covers the non-root path)")
def test_the_same_as_a_grader_that_is_not_root(tmp_path, listeners):
    # The Python installation may sit where only root can read (/root/.pyenv): the non-root grader keeps
    # CAP_DAC_READ_SEARCH (to read files) and nothing else; it is uid 4242 for every other purpose.
    folder, out = tmp_path / "class", tmp_path / "out"
    leaky_class(folder, listeners)
    out.mkdir()
    os.chown(out, NON_ROOT_UID, NON_ROOT_UID)
    proc = subprocess.run([sys.executable, "-m", "bpkit", "grade", "--exercise", "ex03", str(folder), "--out",
                           str(out), "-j", "1", "--timeout", "10", "--seed", "network-secret-1234",
                           "--progress", "off"], preexec_fn=_become_non_root, capture_output=True, text=True,
                          timeout=300, cwd="/")
    if proc.returncode == 97:
        pytest.skip("could not switch to a non-root uid that keeps the right to read the Python installation")
    assert proc.returncode == 0, proc.stderr
    isolation = [line for line in proc.stderr.splitlines() if line.startswith("isolation:")]
    assert isolation, proc.stderr
    if "NETWORK NOT ISOLATED" in isolation[0]:
        pytest.skip("unprivileged user namespaces are not allowed here; bpkit grade said so: " + isolation[0])
    assert "userns+netns" in isolation[0]
    doc = json.loads((out / "grades.json").read_text())
    student = doc["students"][0]
    assert (student["score"], student["status"]) == (EX.max_points, "ok"), student["message"]
    assert listeners.received == []
