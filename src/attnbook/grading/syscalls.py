"""The system-call filter (seccomp, through pyseccomp over libseccomp) loaded just before student code.

It refuses, with EPERM, the kernel facilities that namespaces and rlimits leave open: new namespaces
(unshare, setns, clone with a CLONE_NEW* flag; clone3 answers ENOSYS so that libc falls back to clone,
whose flags can be checked), keyrings, System V IPC, memfd, ptrace and cross-process memory access,
mounts, BPF, perf events, userfaultfd, io_uring (whose operations bypass the filter), kernel modules,
and clock, swap, reboot and accounting changes. System calls of another architecture (32-bit ones on
x86_64) kill the process. Everything else is allowed.
"""

from __future__ import annotations

import errno

REFUSED = (
    "unshare", "setns",
    "add_key", "request_key", "keyctl",
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "memfd_create", "memfd_secret",
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "fanotify_init",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "name_to_handle_at", "open_by_handle_at", "lookup_dcookie", "quotactl", "quotactl_fd",
    "swapon", "swapoff", "reboot", "acct", "syslog", "vhangup", "iopl", "ioperm",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "personality", "uselib",
)
NAMESPACE_FLAGS = (0x00000080, 0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # CLONE_NEWTIME, NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET


def build():
    """Return the filter, ready to load after a fork; None where pyseccomp or libseccomp is missing."""
    try:
        import pyseccomp as seccomp
    except (ImportError, RuntimeError, OSError):
        return None
    refuse = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in REFUSED:
        try:
            rules.add_rule(refuse, name)
        except (OSError, ValueError, RuntimeError):
            pass  # not a system call of this kernel's architecture or of this libseccomp
    for flag in NAMESPACE_FLAGS:
        rules.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    try:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    except (OSError, ValueError, RuntimeError):
        pass
    return rules


def load(rules) -> None:
    """Load the filter into this process (and everything it starts from now on)."""
    rules.load()
