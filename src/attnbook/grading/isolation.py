"""Confine a freshly forked process with Linux namespaces, a read-only view of the system, no network,
an unprivileged user and resource limits. Used only inside the fork server (forkserver.py).

Two strong modes, chosen by who runs the grader:
- "root": new mount, PID, network, IPC and UTS namespaces; the student runs as a throw-away uid.
- "userns" (not root): the same inside a new user namespace, capabilities dropped before student code.
"weak" uses none of them: a temporary directory, the rlimits, and a throw-away uid when root.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
ST_RELATIME = 4096
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
SANDBOX_UID_BASE = 2_000_000  # + the keeper's pid: a uid no file and no other sandbox has
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)


class IsolationError(OSError):
    """A namespace, mount or credential change that the system refused."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise IsolationError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def can_switch_user() -> bool:
    """Return True when this process is root over every uid (so it can hand the child a throw-away one)."""
    try:
        with open("/proc/self/uid_map") as fh:
            return os.geteuid() == 0 and fh.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def mode() -> str:
    """Return the strong mode this process can use: "root" or "userns"."""
    return "root" if can_switch_user() else "userns"


def enter_namespaces(strong_mode: str) -> None:
    """Unshare the PID, network, IPC and UTS namespaces (children of the caller land in the new PID
    namespace); the child makes its own mount namespace in `build_root`, so the caller keeps its view."""
    flags = CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    uid, gid = os.geteuid(), os.getegid()
    if strong_mode == "userns":
        flags |= CLONE_NEWUSER
    _check(_libc.unshare(flags), "unshare")
    if strong_mode == "userns":
        for name, text in (("setgroups", "deny"), ("uid_map", f"1000 {uid} 1"), ("gid_map", f"1000 {gid} 1")):
            with open(f"/proc/self/{name}", "w") as fh:
                fh.write(text)


def visible_paths() -> list[str]:
    """Return the host paths the sandbox sees (read-only): system folders and this Python's own folders."""
    python = {sys.base_prefix, sys.prefix, sys.exec_prefix}
    python |= {p for p in sys.path if os.path.isabs(p) and os.path.isdir(p)}
    chosen: list[str] = []
    for path in sorted(os.path.realpath(p) for p in python):
        if not any(path == c or path.startswith(c + "/") for c in chosen) and path not in SYSTEM_DIRS:
            chosen.append(path)
    return chosen


def _staging(paths: list[str]) -> str:
    for candidate in ("/mnt", "/tmp", "/var/tmp", "/media", "/srv"):
        if os.path.isdir(candidate) and not any(p == candidate or p.startswith(candidate + "/") for p in paths):
            return candidate
    raise IsolationError(0, "no folder to build the sandbox's root in")


def _bind_readonly(source: str, target: str) -> None:
    os.makedirs(target, exist_ok=True)
    _mount(source, target, None, MS_BIND | MS_REC)
    flags = os.statvfs(source).f_flag
    keep = (flags & (MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)) | (MS_RELATIME if flags & ST_RELATIME else 0)
    _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep)


def build_root(tmp_bytes: int) -> None:
    """Enter a new mount namespace and replace its root by a fresh one: system and Python folders read-only,
    a small /dev, a /proc of the new PID namespace, and an empty writable /tmp of `tmp_bytes`."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare the mount namespace")
    paths = visible_paths()
    root = _staging(paths)
    os.umask(0o022)  # folders made for mount points stay read-only to the student
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # /tmp first: a Python installed under the host's /tmp is then bound inside the sandbox's own /tmp.
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={max(tmp_bytes, 1 << 20)},mode=1777")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            _bind_readonly(path, root + path)
    for path in paths:
        _bind_readonly(path, root + path)
    os.makedirs(root + "/dev")
    for dev in DEVICES:
        open(f"{root}/dev/{dev}", "w").close()
        _mount(f"/dev/{dev}", f"{root}/dev/{dev}", None, MS_BIND)
    os.makedirs(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(root)
    _check(_libc.syscall(SYS_PIVOT_ROOT, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount the old root")
    os.chdir("/tmp")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges(uid: int | None) -> None:
    """Become `uid` (when root), drop every capability, and forbid gaining any back through exec."""
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    _check(_libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)()), "capset")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def vm_bytes() -> int:
    """Return this process's current virtual memory size."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def apply_limits(cpu_seconds: int, memory_bytes: int, file_bytes: int, processes: int, open_files: int) -> None:
    """Set hard rlimits; memory counts on top of what the warm interpreter already maps."""
    for res, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, vm_bytes() + memory_bytes),
                       (resource.RLIMIT_FSIZE, file_bytes), (resource.RLIMIT_NPROC, processes),
                       (resource.RLIMIT_NOFILE, open_files), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing the child
