"""What this container lets an unprivileged process do toward the runner's rootless sandbox.

    python deploy/sandbox_probe.py        (inside the container, as its non-root user)

Each step of a rootless jail, in a child process, stops at the first refusal and names it:
a new user namespace with the other namespaces, the uid map, a private tmpfs root with a
read-only bind of /usr, pivot_root, a fresh /proc in a new PID namespace, and setns back
into a namespace. Standard library only (ctypes), so it does not depend on the runner's
code. Exit status 0 when every step works.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys
import tempfile

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MNT_DETACH = 0x2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

libc = ctypes.CDLL(None, use_errno=True)


def step(name: str, result: int) -> None:
    if result != 0:
        err = ctypes.get_errno()
        print(f"FAIL {name}: {os.strerror(err)} (errno {err})", flush=True)
        os._exit(1)
    print(f"ok   {name}", flush=True)


def mount(source: str | None, target: str, fstype: str | None, flags: int) -> int:
    enc = [s.encode() if s else None for s in (source, target, fstype)]
    return int(libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None))


def write(path: str, text: str) -> int:
    try:
        with open(path, "w") as f:
            f.write(text)
    except OSError as exc:
        ctypes.set_errno(exc.errno or 1)
        return -1
    return 0


def jail() -> None:
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC
    step("unshare(user, mount, pid, net, ipc, uts)", libc.unshare(flags | CLONE_NEWUTS))
    step("write uid_map", write("/proc/self/uid_map", f"0 {uid} 1"))
    step("write setgroups", write("/proc/self/setgroups", "deny"))
    step("write gid_map", write("/proc/self/gid_map", f"0 {gid} 1"))
    pid = os.fork()  # the first child of the new PID namespace is its init
    if pid == 0:
        init()
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status))


def init() -> None:
    step("mount / private", mount(None, "/", None, MS_REC | MS_PRIVATE))
    root = tempfile.mkdtemp(prefix="probe-")
    step("mount tmpfs root", mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV))
    os.makedirs(root + "/usr")
    step("bind /usr", mount("/usr", root + "/usr", None, MS_BIND | MS_REC))
    ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    step("remount /usr read-only", mount(None, root + "/usr", None, ro))
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink("/" + link):
            os.symlink(os.readlink("/" + link), f"{root}/{link}")
    # Before pivot_root: the kernel lets a user namespace mount a new procfs only while a
    # fully visible one is in its mount namespace (fs/namespace.c, mount_too_revealing).
    os.makedirs(root + "/proc")
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    step("mount a fresh /proc (PID namespace)", mount("proc", root + "/proc", "proc", flags))
    os.makedirs(root + "/.old")
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        print(f"FAIL pivot_root: no system call number for {platform.machine()}")
        os._exit(1)
    step("pivot_root", libc.syscall(number, root.encode(), (root + "/.old").encode()))
    os.chdir("/")
    step("umount2 old root", libc.umount2(b"/.old", MNT_DETACH))
    fd = os.open("/proc/1/ns/net", os.O_RDONLY)
    step("setns(net)", libc.setns(fd, CLONE_NEWNET))
    os._exit(0)


def main() -> int:
    print(f"uid {os.getuid()}, machine {platform.machine()}", flush=True)
    pid = os.fork()
    if pid == 0:
        try:
            jail()
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print("every step works" if code == 0 else "refused (see FAIL above)")
    return code


if __name__ == "__main__":
    sys.exit(main())
