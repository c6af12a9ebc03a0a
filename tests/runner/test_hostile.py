"""Hostile snippets: each is contained, ends with a clear message, and the runner keeps
answering. They run against both the embedded runner and the separate service."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.core.config import PROJECT_DIR
from app.runner.protocol import RunResult
from tests.runner.conftest import Runner, processes_named


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    check: Callable[[RunResult], None]


def limit(name: str, words: str) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        assert result.limit is not None, result
        assert result.limit.name == name, result.limit
        assert words in result.limit.message, result.limit.message
        assert not result.ok

    return check


def raises(*names: str) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        assert result.exception is not None, result
        assert result.exception.type in names, result.exception
        assert result.limit is None
        assert not result.ok

    return check


def prints(*needles: str, absent: tuple[str, ...] = ()) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        for needle in needles:
            assert needle in result.stdout, result
        for word in absent:
            assert word not in result.stdout + result.stderr, result

    return check


def both(*checks: Callable[[RunResult], None]) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        for one in checks:
            one(result)

    return check


def no_tensor_named(name: str) -> Callable[[RunResult], None]:
    def check(result: RunResult) -> None:
        assert name not in {t.name for t in result.tensors}, result.tensors

    return check


def traceback_said_in_words(result: RunResult) -> None:
    """Deep recursion comes back as CPython shows it, not as a thousand identical frames."""
    assert result.exception is not None
    assert "more times]" in result.exception.traceback, result.exception.traceback
    assert len(result.exception.traceback) < 2000


DB_FILE = PROJECT_DIR / "instance" / "torchquiz.sqlite3"
SECRET = PROJECT_DIR / "instance" / "secret_key"
CTYPES_CALL = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"

CASES = [
    Case("infinite-loop", "while True:\n    pass", limit("cpu", "1 s of CPU time")),
    Case(
        "busy-loop-in-torch",
        "import torch\na = torch.randn(300, 300)\nwhile True:\n    a = (a @ a).tanh()",
        limit("cpu", "CPU time"),
    ),
    Case("one-long-c-call", "x = 10 ** (10 ** 9)", limit("cpu", "CPU time")),
    Case("sleep-past-wall", "import time\ntime.sleep(60)", limit("wall", "3 s (wall-clock")),
    Case("memory-bomb", "x = bytearray(2 * 1024 ** 3)", limit("memory", "256 MiB")),
    Case(
        "growing-list",
        "x = []\nwhile True:\n    x.append(bytearray(10 ** 7))",
        limit("memory", "out of memory"),
    ),
    Case("huge-tensor", "import torch\nx = torch.randn(10 ** 6, 10 ** 6)", raises("RuntimeError")),
    Case(
        "fork-bomb",
        "import os\nwhile True:\n    os.fork()",
        raises("BlockingIOError", "OSError"),
    ),
    Case(
        "thread-bomb",
        "import threading, time\nwhile True:\n"
        "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()",
        raises("RuntimeError"),
    ),
    Case("endless-output", "while True:\n    print('flood')", limit("output", "8 KiB")),
    Case(
        "output-without-newlines",
        "import sys\nsys.stdout.write('x' * 10 ** 7)",
        limit("output", "output limit"),
    ),
    Case(
        "binary-output",
        "import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)\nsys.stdout.flush()",
        lambda r: (r.ok, r.stdout.count("\ufffd") > 0) == (True, True) or pytest.fail(str(r)),
    ),
    Case(
        "postgres-port",
        "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)",
        raises("OSError", "ConnectionRefusedError", "TimeoutError"),
    ),
    Case(
        "redis-port",
        "import socket\nsocket.create_connection(('127.0.0.1', 6379), timeout=2)",
        raises("OSError", "ConnectionRefusedError", "TimeoutError"),
    ),
    Case("dns-lookup", "import socket\nsocket.gethostbyname('pypi.org')", raises("gaierror")),
    Case("read-app-database", f"open({str(DB_FILE)!r}, 'rb').read()", raises("FileNotFoundError")),
    Case("read-secret-key", f"open({str(SECRET)!r}).read()", raises("FileNotFoundError")),
    Case(
        "read-app-config",
        f"open({str(PROJECT_DIR / 'app' / 'core' / 'config.py')!r}).read()",
        raises("FileNotFoundError"),
    ),
    Case(
        "init-environ",
        "print(repr(open('/proc/1/environ').read()))",
        raises("PermissionError"),
    ),
    Case(
        "own-environment",
        "import os\nprint(dict(os.environ))",
        prints("HOME", absent=("TORCHQUIZ",)),
    ),
    Case("shadow-file", "open('/etc/shadow').read()", raises("FileNotFoundError")),
    Case(
        "write-outside-tmp",
        "open('/usr/evil', 'w').write('x')",
        raises("OSError", "PermissionError"),
    ),
    Case(
        "fill-the-disk",
        "f = open('/tmp/fill', 'wb')\nwhile True:\n    f.write(b'x' * 1048576)",
        raises("OSError"),
    ),
    Case(
        "kill-parent",
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('after')",
        lambda r: r.limit is not None or r.exception is not None or pytest.fail(str(r)),
    ),
    Case("segfault-with-ctypes", "import ctypes\nctypes.string_at(0)", limit("crash", "SIGSEGV")),
    Case(
        "sys-exit",
        "import sys\nprint('bye')\nsys.exit(3)",
        lambda r: r.exit_code == 3 or pytest.fail(str(r)),
    ),
    Case("os-exit", "import os\nos._exit(5)", limit("exit", "exit code 5")),
    Case(
        "close-stdout",
        "import os, torch\nos.close(1)\nx = torch.zeros(2, 3)",
        lambda r: [t.shape for t in r.tensors] == [[2, 3]] or pytest.fail(str(r)),
    ),
    Case(
        "ignore-sigterm",
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(60)",
        limit("wall", "wall-clock"),
    ),
    Case(
        "raise-own-rlimit",
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (1000, 1000))",
        raises("ValueError", "PermissionError", "OSError"),
    ),
    Case(
        "shell-via-subprocess",
        "import subprocess\n"
        "print(subprocess.run(['/bin/sh', '-c', 'id -u; cat /etc/shadow; ls "
        f"{PROJECT_DIR}'], capture_output=True, text=True))",
        # Not root, no shadow file, no project: privileged runs have a uid of their own,
        # rootless ones the runner's (the only one their user namespace maps).
        prints("stdout='", absent=("stdout='0\\n", "root:", "instance", "pyproject")),
    ),
    Case(
        "recursion",
        "def f():\n    return f()\nf()",
        both(raises("RecursionError"), lambda r: traceback_said_in_words(r)),
    ),
    Case(
        "fake-result-on-channel",
        "import os\n"
        'os.write(3, b\'{"exception": null, "tensors": [{"name": "fake", "shape": [1],'
        ' "dtype": "float32"}]}\')',
        no_tensor_named("fake"),
    ),
    Case(
        "fake-result-marker",
        'print(\'{"ok": true, "tensors": [{"name": "fake", "shape": [1], "dtype": "x"}]}\')',
        both(prints("fake"), no_tensor_named("fake")),
    ),
    Case(
        "ptrace",
        CTYPES_CALL + "assert libc.ptrace(16, 1, 0, 0) == -1",
        lambda r: r.ok or pytest.fail(str(r)),
    ),
    Case(
        "new-namespaces",
        CTYPES_CALL
        + "assert libc.unshare(0x10000000) == -1\nassert libc.unshare(0x00020000) == -1",
        lambda r: r.ok or pytest.fail(str(r)),
    ),
    Case(
        "mount",
        CTYPES_CALL + "assert libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) == -1",
        lambda r: r.ok or pytest.fail(str(r)),
    ),
]


# Serial: these must reach their 1 s of CPU within 3 s of wall-clock (tests/parallel.py).
CPU_BOUND = {"infinite-loop", "busy-loop-in-torch", "one-long-c-call"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=pytest.mark.serial if c.id in CPU_BOUND else ())
        for c in CASES
    ],
)
def test_hostile_snippet_is_contained(runner: Runner, case: Case) -> None:
    result = runner.run(case.code)
    case.check(result)
    after = runner.run("import torch\nok = torch.ones(2).sum()")
    assert after.ok and after.values["ok"] == 2.0, "the runner keeps answering"


def test_there_are_at_least_thirty_hostile_cases() -> None:
    assert len(CASES) >= 30


def test_files_do_not_carry_over_between_runs(runner: Runner) -> None:
    for _ in range(6):  # enough runs to come back to every slot
        runner.run(
            "open('/tmp/left-behind', 'w').write('secret')\nimport os\nos.mkdir('/dev/shm/x')"
        )
        listing = runner.run("import os\nprint(os.listdir('/tmp'))\nprint(os.listdir('/dev/shm'))")
        tmp, shm = listing.stdout.splitlines()
        # /tmp holds nothing but, with a venv under /tmp, the folders leading to it.
        assert "left-behind" not in tmp and shm == "[]", listing


def test_a_background_process_does_not_outlive_its_run(runner: Runner) -> None:
    result = runner.run(
        CTYPES_CALL + "import os, time\n"
        "if os.fork() == 0:\n"
        "    libc.prctl(15, b'tq-leftover', 0, 0, 0)  # PR_SET_NAME\n"
        "    time.sleep(120)\n"
        "print('parent')"
    )
    assert result.stdout.strip() == "parent"
    deadline = time.monotonic() + 5
    while processes_named("tq-leftover") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_named("tq-leftover")


def test_runs_see_only_their_own_processes(runner: Runner) -> None:
    result = runner.run(
        "import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    )
    pids = eval(result.stdout)
    assert pids[0] == 1 and len(pids) == 2, pids
