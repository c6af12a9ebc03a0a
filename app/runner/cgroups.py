"""Memory and process limits per run slot, with the kernel's control groups.

Each slot of a zygote gets its own group (v1: one per controller; v2: one directory), created
before the zygote enters its jail and kept open by directory descriptors, so the jailed zygote
can still configure them. Without usable cgroups the sandbox falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass
class _Group:
    fd: int  # directory descriptor
    files: dict[str, str]  # role -> file name in this group


class SlotGroups:
    """The groups of one slot; all calls work inside the jail (descriptors, not paths)."""

    def __init__(self, groups: list[_Group]) -> None:
        self._groups = groups

    def _write(self, role: str, value: str) -> None:
        for group in self._groups:
            if role in group.files:
                fd = os.open(group.files[role], os.O_WRONLY, dir_fd=group.fd)
                try:
                    os.write(fd, value.encode())
                finally:
                    os.close(fd)

    def _read(self, role: str) -> str:
        for group in self._groups:
            if role in group.files:
                fd = os.open(group.files[role], os.O_RDONLY, dir_fd=group.fd)
                try:
                    return os.read(fd, 65536).decode()
                finally:
                    os.close(fd)
        return ""

    def descriptors(self) -> list[int]:
        return [group.fd for group in self._groups]

    def configure(self, *, memory_bytes: int, processes: int) -> None:
        self._write("memory_limit", str(memory_bytes))
        self._write("pids_limit", str(processes))

    def join(self, pid: int) -> None:
        self._write("procs", str(pid))

    def memory_events(self) -> int:
        """How often the memory limit was hit so far (v1 failcnt, v2 oom_kill events)."""
        text = self._read("memory_events")
        if text.startswith("low") or "oom_kill" in text:
            fields = dict(line.split() for line in text.splitlines() if line)
            return int(fields.get("oom_kill", 0))
        return int(text or 0)

    def members(self) -> list[int]:
        pids: set[int] = set()
        for group in self._groups:
            fd = os.open(group.files["procs"], os.O_RDONLY, dir_fd=group.fd)
            try:
                pids |= {int(p) for p in os.read(fd, 1 << 20).split()}
            finally:
                os.close(fd)
        return sorted(pids)


def create_slots(name: str, count: int) -> list[SlotGroups] | None:
    """Groups for `count` slots under torchquiz/<name>, or None where cgroups are unusable."""
    try:
        if (ROOT / "cgroup.controllers").exists():
            return _create_v2(name, count)
        return _create_v1(name, count)
    except OSError:
        return None


def _create_v1(name: str, count: int) -> list[SlotGroups] | None:
    memory, pids = ROOT / "memory", ROOT / "pids"
    # The root of a v1 pids hierarchy has no pids.max; its children do.
    if not (memory / "memory.limit_in_bytes").exists() or not (pids / "cgroup.procs").exists():
        return None
    slots = []
    for slot in range(count):
        mem_dir = _make(memory / "torchquiz" / name / f"slot-{slot}")
        pid_dir = _make(pids / "torchquiz" / name / f"slot-{slot}")
        mem_files = {
            "memory_limit": "memory.limit_in_bytes",
            "memory_events": "memory.failcnt",
            "procs": "cgroup.procs",
        }
        pid_files = {"pids_limit": "pids.max", "procs": "cgroup.procs"}
        slots.append(
            SlotGroups([_Group(_open(mem_dir), mem_files), _Group(_open(pid_dir), pid_files)])
        )
    return slots


def _create_v2(name: str, count: int) -> list[SlotGroups] | None:
    controllers = (ROOT / "cgroup.controllers").read_text().split()
    if "memory" not in controllers or "pids" not in controllers:
        return None
    parent = _make(ROOT / "torchquiz" / name)
    for level in (ROOT / "torchquiz", parent):
        (level / "cgroup.subtree_control").write_text("+memory +pids")
    files = {
        "memory_limit": "memory.max",
        "memory_events": "memory.events",
        "pids_limit": "pids.max",
        "procs": "cgroup.procs",
    }
    return [SlotGroups([_Group(_open(_make(parent / f"slot-{i}")), files)]) for i in range(count)]


def remove_slots(name: str) -> None:
    """Remove the (empty) groups of a stopped zygote; called from outside the jail."""
    for base in (ROOT / "memory", ROOT / "pids", ROOT):
        top = base / "torchquiz" / name
        with contextlib.suppress(OSError):  # not there, or not ours to look at (rootless)
            for slot in top.glob("slot-*"):
                with contextlib.suppress(OSError):
                    slot.rmdir()
            top.rmdir()


def _make(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY)
