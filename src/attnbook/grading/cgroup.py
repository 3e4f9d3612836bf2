"""A memory and pids cgroup (version 1) per sandboxed child, where the machine offers one to root.

The kernel then charges everything the child's processes allocate to it (anonymous memory, page cache,
tmpfs and shared memory, kernel memory) and stops it at the limit, whatever it does with its rlimits or
its address space; the pids controller caps its processes and threads together.
"""

from __future__ import annotations

import os
from pathlib import Path

CONTROLLERS = ("memory", "pids")
PREFIX = "attnbook-"


def _own_folders() -> dict[str, Path]:
    """Return {controller: this process's cgroup folder} for the version-1 controllers mounted here."""
    mounts: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            left, _, right = line.partition(" - ")
            fstype, _, options = (right.split() + ["", "", ""])[:3]
            if fstype == "cgroup":
                for controller in CONTROLLERS:
                    if controller in options.split(","):
                        mounts[controller] = Path(left.split()[4])
    found = {}
    with open("/proc/self/cgroup") as fh:
        for line in fh:
            _, names, path = line.rstrip("\n").split(":", 2)
            for controller in set(names.split(",")) & set(mounts):
                found[controller] = mounts[controller] / path.lstrip("/")
    return found


class Cgroup:
    """One child's memory and pids cgroup: made by `create`, joined with `enter`, removed with `remove`."""

    def __init__(self, folders: dict[str, Path], parents: dict[str, Path]):
        self.folders, self.parents = folders, parents

    @classmethod
    def create(cls, name: str, memory_bytes: int, processes: int) -> "Cgroup | None":
        """Make the cgroup with its limits; None where this machine or user has no such controllers."""
        if os.geteuid() != 0:
            return None
        try:
            parents = _own_folders()
            if set(parents) != set(CONTROLLERS):
                return None
            folders = {c: p / f"{PREFIX}{name}" for c, p in parents.items()}
            for folder in folders.values():
                folder.mkdir(exist_ok=True)
            group = cls(folders, parents)
            group._write("memory", "memory.limit_in_bytes", memory_bytes)
            group._write("memory", "memory.memsw.limit_in_bytes", memory_bytes, optional=True)  # no swapping out
            group._write("pids", "pids.max", processes)
            return group
        except OSError:
            return None

    def _write(self, controller: str, name: str, value: int, optional: bool = False) -> None:
        try:
            (self.folders[controller] / name).write_text(str(value))
        except OSError:
            if not optional:
                raise

    def enter(self, pid: int) -> None:
        """Move process `pid` (and so everything it starts afterwards) into this cgroup."""
        for controller in CONTROLLERS:
            self._write(controller, "cgroup.procs", pid)

    def memory_exceeded(self) -> bool:
        """Return True when the kernel had to kill a process of this cgroup for memory."""
        try:
            text = (self.folders["memory"] / "memory.oom_control").read_text()
        except OSError:
            return False
        fields = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
        return fields.get("oom_kill", "0") != "0" or fields.get("under_oom", "0") != "0"

    def remove(self, pid: int) -> None:
        """Move `pid` back to where it came from and delete this (by now empty) cgroup."""
        for controller in CONTROLLERS:
            try:
                (self.parents[controller] / "cgroup.procs").write_text(str(pid))
            except OSError:
                pass
        for folder in self.folders.values():
            try:
                folder.rmdir()
            except OSError:
                pass


def remove_stale() -> None:
    """Delete the cgroups of fork servers that are gone (named `attnbook-<server pid>-<keeper pid>`)."""
    try:
        parents = _own_folders()
    except OSError:
        return
    for parent in parents.values():
        for folder in parent.glob(f"{PREFIX}*-*"):
            server = folder.name[len(PREFIX):].split("-")[0]
            if server.isdigit() and not os.path.exists(f"/proc/{server}"):
                try:
                    folder.rmdir()
                except OSError:
                    pass
