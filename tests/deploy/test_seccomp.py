"""deploy/seccomp-sandbox.json: Docker's policy plus the rootless sandbox's calls, as data and
as a real filter (loaded with libseccomp in a child process)."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, load_deploy_module

generator = load_deploy_module("seccomp_sandbox")
PROFILE: dict[str, Any] = json.loads((DEPLOY / "seccomp-sandbox.json").read_text())
SANDBOX_CALLS = {"unshare", "clone", "clone3", "setns", "mount", "umount2", "pivot_root"}
# Docker refuses these to every container; so must we.
DOCKER_REFUSED = {
    "kexec_load", "init_module", "finit_module", "delete_module", "open_by_handle_at",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "reboot", "swapon",
    "settimeofday", "clock_settime", "acct", "userfaultfd", "iopl", "ioperm",
}  # fmt: skip


def rules(action: str) -> list[dict[str, Any]]:
    return [rule for rule in PROFILE["syscalls"] if rule["action"] == action]


def unconditionally_allowed() -> set[str]:
    return {n for r in rules("SCMP_ACT_ALLOW") if not r.get("args") for n in r["names"]}


def refused() -> set[str]:
    return {n for r in rules("SCMP_ACT_ERRNO") for n in r["names"]}


def test_the_sandbox_calls_are_allowed_without_conditions_or_capabilities() -> None:
    assert unconditionally_allowed() >= SANDBOX_CALLS
    for rule in PROFILE["syscalls"]:
        assert "includes" not in rule and "excludes" not in rule


def test_the_calls_docker_refuses_stay_refused() -> None:
    assert refused() >= DOCKER_REFUSED
    assert not unconditionally_allowed() & DOCKER_REFUSED


def test_no_call_is_both_allowed_and_refused() -> None:
    allowed = {n for r in rules("SCMP_ACT_ALLOW") for n in r["names"]}
    assert not allowed & refused()
    # Only these two are allowed with argument conditions, and then never unconditionally.
    conditional = {n for r in rules("SCMP_ACT_ALLOW") if r.get("args") for n in r["names"]}
    assert conditional == {"personality", "socket"}
    assert not conditional & unconditionally_allowed()


def test_calls_the_profile_does_not_know_fail_with_enosys_so_libc_falls_back() -> None:
    assert PROFILE["defaultAction"] == "SCMP_ACT_ERRNO"
    assert PROFILE["defaultErrnoRet"] == errno.ENOSYS
    assert all(r["errnoRet"] == errno.EPERM for r in rules("SCMP_ACT_ERRNO"))


def test_the_committed_profile_is_what_the_generator_writes() -> None:
    if not all(header.exists() for header in generator.HEADERS):
        pytest.skip("the Linux UAPI headers (Debian's linux-libc-dev) are not installed")
    syscalls = generator.kernel_syscalls()
    assert {"read", "openat", "unshare", "pivot_root"} <= syscalls
    assert (DEPLOY / "seccomp-sandbox.json").read_text() == generator.render(syscalls)


def compile_filter(profile: dict[str, Any]) -> Any:
    """The profile as libseccomp sees it, the way container runtimes build it: unknown names
    are skipped (the profile lists calls of several architectures)."""
    import pyseccomp as seccomp

    ops = {"SCMP_CMP_EQ": seccomp.EQ, "SCMP_CMP_NE": seccomp.NE}
    result = seccomp.SyscallFilter(seccomp.ERRNO(profile["defaultErrnoRet"]))
    for rule in profile["syscalls"]:
        action = (
            seccomp.ALLOW if rule["action"] == "SCMP_ACT_ALLOW" else seccomp.ERRNO(rule["errnoRet"])
        )
        args = [seccomp.Arg(a["index"], ops[a["op"]], a["value"]) for a in rule.get("args", [])]
        for name in rule["names"]:
            try:
                result.add_rule(action, name, *args)
            except (RuntimeError, ValueError, OSError):
                continue
    return result


@pytest.mark.skipif(platform.machine() != "x86_64", reason="system call numbers for x86_64")
def test_under_the_real_filter_the_sandbox_calls_pass_and_the_refused_ones_fail() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    sys_keyctl, af_vsock, addr_no_randomize, clone_newns = 250, 40, 0x0040000, 0x00020000
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            compile_filter(PROFILE).load()
            results = {}
            for name, call in {
                "unshare(newns)": lambda: libc.unshare(clone_newns),
                "keyctl": lambda: libc.syscall(sys_keyctl, 0, 0, 0, 0, 0),
                "personality(query)": lambda: libc.personality(ctypes.c_ulong(0xFFFFFFFF)),
                "personality(no aslr)": lambda: libc.personality(ctypes.c_ulong(addr_no_randomize)),
                "socket(unix)": lambda: libc.socket(1, 1, 0),
                "socket(vsock)": lambda: libc.socket(af_vsock, 1, 0),
            }.items():
                ctypes.set_errno(0)
                value = call()
                results[name] = 0 if value >= 0 else ctypes.get_errno()
            os.write(write_end, json.dumps(results).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        results = json.loads(pipe.read() or "{}")
    os.waitpid(pid, 0)
    if not results:
        pytest.fail("the child could not load the filter")
    assert results["unshare(newns)"] == 0
    assert results["keyctl"] == errno.EPERM
    assert results["personality(query)"] == 0
    assert results["personality(no aslr)"] == errno.ENOSYS
    assert results["socket(unix)"] == 0
    assert results["socket(vsock)"] == errno.ENOSYS


def test_the_generator_reads_syscall_names_from_both_header_styles(tmp_path: Path) -> None:
    header = tmp_path / "unistd.h"
    header.write_text("#define __NR_read 0\n#define __NR3264_fcntl 25\n#define __NR_syscalls 1\n")
    assert generator.kernel_syscalls((header,)) == {"read", "fcntl"}
