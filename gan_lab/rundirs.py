"""Run folders written atomically, and never over anything the program did not write.

`atomic_dir(dest)`: everything goes into a temporary sibling named
`.partial-<name>.<host>.<pid>.<random>`, which is renamed to the final name when complete. So a
folder with a summary.json is a finished run (`is_complete`), and a crash or Ctrl-C leaves at
most a `.partial-*` folder, which `remove_stale_partials` deletes once its writer is gone.
Where the destination already exists and holds files (`train --out .`), the new files replace
the old ones one by one, summary.json removed first and moved in last: the rule holds there too.

Nothing the program did not write is ever deleted or replaced (issue 18): `check_run_dest`
refuses, before a run starts and again when it is moved in, a destination that is a file, lies
under a file, holds a folder or link where a run file goes, or holds run files without being a
run's folder; a run refused at that last moment is kept beside it (`*.kept-*`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

from .config import ConfigError, specs

PARTIAL = ".partial-"
SUMMARY = "summary.json"
RUN_FILES = ("config.json", "metrics.csv", "checkpoint.safetensors", "samples.npy",
             "samples.png", SUMMARY)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname())[:32] or "host"


def _partial_name(dest: Path) -> str:
    return f"{PARTIAL}{dest.name}.{_host()}.{os.getpid()}.{secrets.token_hex(3)}"


@contextlib.contextmanager
def atomic_dir(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder next to `dest`; when the block ends normally, it becomes
    `dest` (see the module docstring). On an exception (Ctrl-C included) it is deleted and
    `dest` is left as it was. Write summary.json last inside the block. A `dest` that turned
    into something a run may not replace meanwhile (check_run_dest) raises ConfigError and the
    finished run is kept beside it."""
    dest = Path(dest).resolve()
    check_run_dest(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / _partial_name(dest)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        _commit(tmp, dest)
    except ConfigError as e:
        kept = dest.parent / f"{dest.name}.kept-{secrets.token_hex(3)}"
        os.rename(tmp, kept)
        raise ConfigError(e.field, f"{field_message(e)}; the finished run is kept in "
                                   f"{kept}") from None


def field_message(e: ConfigError) -> str:
    text, prefix = str(e), f"{e.field}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def check_out_dir(path: str | os.PathLike, field: str = "--out") -> None:
    """`path` is a folder, or one can be made there: ConfigError(field) naming why not."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError(field, f"{p} is a file, not a folder: give a folder")
    for parent in p.resolve().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(field, f"{parent} is a file, so {p} cannot be made")
            if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
                raise ConfigError(field, f"cannot create {p}: {parent} is not writable")
            break


def check_run_dest(path: str | os.PathLike, field: str = "--out") -> None:
    """A run may be written to `path` without deleting or replacing anything it did not write
    (see the module docstring): ConfigError(field) naming the first obstacle."""
    check_out_dir(path, field)
    p = Path(path)
    if not p.is_dir():
        return
    present = [n for n in RUN_FILES if os.path.lexists(p / n)]
    for n in present:
        q = p / n
        if q.is_symlink() or not q.is_file():
            what = "a link" if q.is_symlink() else "a folder" if q.is_dir() else "not a file"
            raise ConfigError(field, f"{q} is {what}; a run writes a file of that name there "
                                     "and never deletes what it did not write: move it away or "
                                     f"choose another {field}")
    if present and not _written_by_a_run(p):
        raise ConfigError(field, f"{p} holds {present[0]} but is not a run's folder (no "
                                 f"{SUMMARY}, no run's config.json); a run replaces only the "
                                 f"files of a run written there: choose another {field}")


def _written_by_a_run(p: Path) -> bool:
    """A run's folder: finished (summary.json), or one whose summary.json was removed to have
    it redone (a sweep does that): its config.json is a whole RunConfig, as runs write them."""
    if (p / SUMMARY).is_file():
        return True
    try:
        d = json.loads((p / "config.json").read_text())
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(d, dict) and set(d) == {s["name"] for s in specs()}


def _commit(tmp: Path, dest: Path) -> None:
    try:
        os.rename(tmp, dest)    # dest absent, or an empty folder (replaced on POSIX)
        return
    except OSError as e:
        if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EACCES, errno.EPERM) or \
                not dest.is_dir():
            raise
    # dest holds files: replace ours one by one (only a finished run's, and only files: checked
    # now again, since the run may have taken hours), summary.json gone first and back last.
    check_run_dest(dest)
    (dest / SUMMARY).unlink(missing_ok=True)
    for f in sorted(tmp.iterdir(), key=lambda p: p.name == SUMMARY):
        os.replace(f, dest / f.name)
    tmp.rmdir()


def write_run_files(dest: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Write a run folder from file contents (name -> bytes) atomically, summary.json last."""
    with atomic_dir(dest) as tmp:
        for name in sorted(files, key=lambda n: n == SUMMARY):
            if "/" in name or name.startswith("."):
                raise ValueError(f"bad run file name {name!r}")
            (tmp / name).write_bytes(files[name])
    return Path(dest)


def read_run_files(path: str | os.PathLike) -> dict[str, bytes]:
    """The files of a run folder, name -> bytes (to move a run between machines)."""
    return {p.name: p.read_bytes() for p in sorted(Path(path).iterdir()) if p.is_file()}


def is_complete(path: str | os.PathLike) -> bool:
    """A finished run folder: not a .partial-* one, and its summary.json is there."""
    p = Path(path)
    return not p.name.startswith(PARTIAL) and (p / SUMMARY).is_file()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(root: str | os.PathLike) -> list[Path]:
    """Delete the .partial-* folders under root whose writer (a process on this host) is gone:
    what a crash or a killed worker left. Folders of live writers and of other hosts stay."""
    root = Path(root)
    if not root.is_dir():
        return []
    host = _host()
    removed = []
    for p in sorted(root.rglob(PARTIAL + "*")):
        if not p.is_dir():
            continue
        bits = p.name.rsplit(".", 3)
        try:
            h, pid = bits[1], int(bits[2])
        except (IndexError, ValueError):
            continue
        if h == host and not _alive(pid):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed
