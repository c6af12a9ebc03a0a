"""Write deploy/seccomp-sandbox.json: the container's seccomp profile for Docker and Podman.

    python deploy/seccomp_sandbox.py [--check]

The policy is Docker's documented one (docs.docker.com/engine/security/seccomp/: an allow
list, with the kernel's dangerous or non-namespaced calls left out) with one change: the
calls the code runner's rootless sandbox is built from are allowed to a process without
CAP_SYS_ADMIN. Docker's own default gates them on that capability, which a container whose
user is not root never has; Podman's default allows most of them already but refuses
setns (containers/common pkg/seccomp).

The allow list is every system call of the kernel's tables (x86_64 and the generic table
that arm64 uses, read from the Linux UAPI headers) minus DENIED, plus the calls newer than
those headers in NEWER_ALLOWED. A call the list does not know fails with ENOSYS, so that C
libraries fall back to an older call instead of failing.

--check exits 1 if the committed file differs from what this script writes (tested when the
headers are installed).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "seccomp-sandbox.json"
HEADERS = (
    Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    Path("/usr/include/asm-generic/unistd.h"),
)
ENOSYS = 38
EPERM = 1

# What the runner's sandbox calls (app/runner/jail.py, zygote.py, child.py), and why each is
# otherwise refused to a non-root container.
SANDBOX = {
    "unshare": "new user, mount, PID, network, IPC and UTS namespaces",
    "clone": "a child in new namespaces (Docker's default masks out the namespace flags)",
    "clone3": "the same through clone3 (Docker's default answers ENOSYS without SYS_ADMIN)",
    "setns": "the zygote moves each run into the namespaces made for it",
    "mount": "the jail's tmpfs root, read-only binds, /proc, /tmp and /dev/shm",
    "umount2": "drop the old root after pivot_root, and a run's stale /tmp",
    "pivot_root": "switch into the jail's root",
}

# Refused, with Docker's documented reason. Namespace-free, host-wide or kernel-attack-surface
# calls; several also need a capability the container does not have.
DENIED = {
    # Kernel modules, kexec and reboot: the host's kernel.
    "create_module": "kernel modules",
    "delete_module": "kernel modules",
    "finit_module": "kernel modules",
    "get_kernel_syms": "kernel modules",
    "init_module": "kernel modules",
    "query_module": "kernel modules",
    "kexec_file_load": "loads a new kernel",
    "kexec_load": "loads a new kernel",
    "reboot": "reboots the host",
    # Clocks: time is not namespaced.
    "clock_settime": "the host's clock",
    "settimeofday": "the host's clock",
    "clock_settime64": "the host's clock",
    "stime": "the host's clock",
    # Accounting, quotas, swap, NFS server.
    "acct": "process accounting",
    "quotactl": "disk quotas",
    "quotactl_fd": "disk quotas",
    "swapoff": "the host's swap",
    "swapon": "the host's swap",
    "nfsservctl": "the kernel NFS server",
    # Kernel keyring: not namespaced.
    "add_key": "the kernel keyring is not namespaced",
    "keyctl": "the kernel keyring is not namespaced",
    "request_key": "the kernel keyring is not namespaced",
    # Tracing and other processes' memory (the runs share the container's host uid).
    "bpf": "eBPF programs",
    "perf_event_open": "performance counters leak host information",
    "lookup_dcookie": "profiling, needs CAP_SYS_ADMIN",
    "fanotify_init": "filesystem-wide event monitoring",
    "ptrace": "tracing other processes",
    "process_vm_readv": "another process's memory",
    "process_vm_writev": "another process's memory",
    "process_madvise": "another process's memory",
    "pidfd_getfd": "another process's file descriptors",
    "kcmp": "compares other processes' kernel state",
    # Memory policy and paging: needs CAP_SYS_NICE; userfaultfd is an exploit aid.
    "get_mempolicy": "NUMA policy",
    "mbind": "NUMA policy",
    "set_mempolicy": "NUMA policy",
    "set_mempolicy_home_node": "NUMA policy",
    "migrate_pages": "NUMA policy",
    "move_pages": "NUMA policy",
    "userfaultfd": "page-fault handling in user space, an exploit aid",
    # Old or x86 hardware interfaces.
    "ioperm": "I/O ports",
    "iopl": "I/O privilege level",
    "vm86": "virtual 8086 mode",
    "vm86old": "virtual 8086 mode",
    "uselib": "obsolete",
    "ustat": "obsolete",
    "sysfs": "obsolete",
    "_sysctl": "obsolete",
    "syslog": "the kernel log",
    "vhangup": "hangs up the terminal, needs CAP_SYS_TTY_CONFIG",
    # In the table but never implemented by Linux.
    "afs_syscall": "not implemented",
    "getpmsg": "not implemented",
    "putpmsg": "not implemented",
    "security": "not implemented",
    "tuxcall": "not implemented",
    "vserver": "not implemented",
    # Files by handle: the 'shocker' container escape.
    "open_by_handle_at": "opens host files by handle",
    # The new mount API and hostnames: the sandbox uses mount(2) and keeps the hostname.
    "fsconfig": "new mount API, not used by the sandbox",
    "fsmount": "new mount API, not used by the sandbox",
    "fsopen": "new mount API, not used by the sandbox",
    "fspick": "new mount API, not used by the sandbox",
    "mount_setattr": "new mount API, not used by the sandbox",
    "move_mount": "new mount API, not used by the sandbox",
    "open_tree": "new mount API, not used by the sandbox",
    "open_tree_attr": "new mount API, not used by the sandbox",
    "umount": "old umount; the sandbox uses umount2",
    "setdomainname": "UTS names, not used by the sandbox",
    "sethostname": "UTS names, not used by the sandbox",
    # io_uring: Docker removed it from its default for its kernel attack surface.
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "io_uring_setup": "io_uring",
    # Security modules' own attributes.
    "lsm_get_self_attr": "LSM attributes, needs CAP_SYS_ADMIN in Docker's default",
    "lsm_list_modules": "LSM attributes, needs CAP_SYS_ADMIN in Docker's default",
    "lsm_set_self_attr": "LSM attributes, needs CAP_SYS_ADMIN in Docker's default",
    # Allowed below only with arguments.
    "personality": "only the harmless personas (below)",
    "socket": "every family but AF_VSOCK (below)",
}

# Added to the kernel after the headers the list is read from (Linux 6.1); harmless calls that
# newer C libraries use.
NEWER_ALLOWED = (
    "cachestat",
    "fchmodat2",
    "map_shadow_stack",
    "futex_wake",
    "futex_wait",
    "futex_requeue",
    "statmount",
    "listmount",
    "mseal",
    "setxattrat",
    "getxattrat",
    "listxattrat",
    "removexattrat",
    "file_getattr",
    "file_setattr",
    "uretprobe",
    "riscv_hwprobe",
)

# personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32
# and the query 0xffffffff. Others (ADDR_NO_RANDOMIZE...) would turn off ASLR.
PERSONAS = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
AF_VSOCK = 40


def kernel_syscalls(headers: tuple[Path, ...] = HEADERS) -> set[str]:
    """System call names from the UAPI headers (`#define __NR_name` or `__NR3264_name`)."""
    names: set[str] = set()
    for header in headers:
        for match in re.finditer(r"#define __NR(?:3264)?_(\w+)\s", header.read_text()):
            names.add(match.group(1))
    # Not calls: the table's size and the syscalls() alias of the generic table.
    return {n for n in names if n not in {"syscalls", "arch_specific_syscall"}}


def profile(syscalls: set[str]) -> dict[str, object]:
    allowed = sorted((syscalls | set(NEWER_ALLOWED) | set(SANDBOX)) - set(DENIED))
    return {
        "comment": (
            "torchquiz: Docker's documented default policy plus the calls of the code "
            "runner's rootless sandbox. Generated by deploy/seccomp_sandbox.py; see "
            "README.md (section 'Container')."
        ),
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": ENOSYS,
        "syscalls": [
            {"names": allowed, "action": "SCMP_ACT_ALLOW"},
            # One rule per value: a rule's argument conditions must all hold.
            *(
                {
                    "names": ["personality"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}],
                }
                for p in PERSONAS
            ),
            {
                "names": ["socket"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}],
            },
            {
                "names": sorted(n for n in DENIED if n not in {"personality", "socket"}),
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
            },
        ],
    }


def render(syscalls: set[str]) -> str:
    return json.dumps(profile(syscalls), indent=2) + "\n"


def main(argv: list[str]) -> int:
    text = render(kernel_syscalls())
    if "--check" in argv:
        return 0 if OUTPUT.read_text() == text else 1
    OUTPUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
