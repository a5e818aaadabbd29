"""One rule for every file the toolkit writes, and the first check of every file it reads.

Writing (``sweep export --out``, ``report --out/--export``, the report's own files):

- the output may not be any input: same device and inode, so a hard link or a symlink to an input
  counts as that input (:func:`check_output`, with ``inputs``); a store's ``-wal``, ``-shm`` and
  ``-journal`` files count as the store (:func:`store_files`);
- it may not be a folder, a device, a FIFO or a socket (checked with ``stat``, never opened), and its
  folder must exist and be writable, all before any work starts;
- the format follows the suffix, or is refused (:func:`output_format`);
- it is written atomically (:func:`atomic_write`): a temporary file beside it, then ``os.replace``; a
  process killed half-way leaves a ``.<name>.fpe-<pid>-*.tmp`` file that the next write to the same
  output removes once that process is gone.

Reading: :func:`check_input` refuses a folder, FIFO, device or socket by its ``stat``, without opening it
(opening a FIFO for reading blocks until someone writes).

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> out = os.path.join(folder, "rows.csv")
>>> (output_format(out, "out"), check_output(out, "out", inputs={"store": out + ".db"}))
('csv', None)
>>> atomic_write(out, lambda f: f.write(b"a,b\\n"))
>>> open(out).read()
'a,b\\n'
"""

from __future__ import annotations

import os
import stat
import tempfile

TMP_MARK = ".fpe-"  # temporary files: ".<name>.fpe-<pid>-<random>.tmp"
_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)  # follows symlinks; never opens the file
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ValueError(f"{path!r}: cannot look at it ({exc.strerror or exc})") from None


def _kind(st: os.stat_result) -> str | None:
    """``'a FIFO (named pipe)'`` etc. for anything that is neither a regular file nor a folder."""
    return next((name for test, name in _KINDS if test(st.st_mode)), None)


def identity(path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names (symlinks followed), None when there is none."""
    st = _stat(os.fspath(path))
    return None if st is None else (st.st_dev, st.st_ino)


def check_input(path, param: str) -> bool:
    """True when ``path`` is a regular file, False when absent; a one-line ValueError for anything else.

    A folder, FIFO, device or socket is refused from its ``stat``, without opening it.
    """
    path = os.fspath(path)
    st = _stat(path)
    if st is None:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{param}={path!r}: is a folder, not a file")
    kind = _kind(st)
    if kind:
        raise ValueError(f"{param}={path!r}: is {kind}, not a regular file; refused without opening it")
    return True


def store_files(path) -> list[str]:
    """A results store and the files SQLite keeps beside it (all of them inputs while it is read)."""
    path = os.fspath(path)
    return [path, path + "-wal", path + "-shm", path + "-journal"]


def output_format(path, param: str, formats: dict[str, str] | None = None) -> str:
    """The format named by the suffix of ``path`` (longest suffix first); a one-line ValueError for any other."""
    formats = formats or OUTPUT_FORMATS
    low = os.fspath(path).lower()
    for suffix, name in sorted(formats.items(), key=lambda kv: -len(kv[0])):
        if low.endswith(suffix):
            return name
    raise ValueError(f"{param}={os.fspath(path)!r}: cannot tell the format from its suffix; use {', '.join(formats)}")


OUTPUT_FORMATS = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet", ".pq": "parquet"}


def check_output(path, param: str, inputs: dict | None = None) -> None:
    """Refuse (one-line ValueError) an output path that is no file path, a folder, a device, a FIFO, a
    socket, in a missing or read-only folder, or the same file (device and inode) as any of ``inputs``.

    ``inputs``: parameter name -> a path or a list of paths (e.g. :func:`store_files`) the command reads.
    Nothing is opened or created.
    """
    text = os.fspath(path) if path is not None else ""
    if not text.strip() or text.endswith(("/", os.sep)) or os.path.basename(text) in (".", ".."):
        raise ValueError(f"{param}={text!r}: must be a file path (e.g. results.csv)")
    st = _stat(text)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{param}={text!r}: is a folder; give a file path inside it")
    if st is not None and _kind(st):
        raise ValueError(f"{param}={text!r}: is {_kind(st)}; an output must be a regular file (it is left as it is)")
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise ValueError(f"{param}={text!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{param}={text!r}: cannot write (folder {folder!r} is not writable); nothing was written")
    real = os.path.realpath(text)
    for name, paths in (inputs or {}).items():
        for p in [paths] if isinstance(paths, str | os.PathLike) else paths:
            if p is None:
                continue
            same_path = os.path.realpath(p) == real  # also an input not made yet (a store the run creates)
            if same_path or (st is not None and identity(p) == (st.st_dev, st.st_ino)):
                same = "" if os.fspath(p) == text else f" (through a link: {os.fspath(p)!r})"
                raise ValueError(f"{param}={text!r}: is the input {name}{same}; writing it would destroy it")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(path) -> list[str]:
    """Remove the temporary files a killed writer of ``path`` left (their process is gone); return them."""
    path = os.fspath(path)
    folder, base = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    prefix = f".{base}{TMP_MARK}"
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix) :].split("-")[0]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue
        full = os.path.join(folder, name)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(full)
        except OSError:
            pass
    return removed


def atomic_write(path, write) -> None:
    """``write(binary_file)`` into a temporary file beside ``path``, then ``os.replace``.

    Readers see the old file or the whole new one, never a part; on any error (Ctrl-C included) the
    temporary file is removed and the old file kept; a process killed outright leaves its temporary
    file, which the next write to ``path`` removes. The new file gets an ordinary new file's mode
    (``0o666`` less the umask; ``mkstemp`` makes ``0o600``).
    """
    path = os.fspath(path)
    remove_stale(path)
    folder = os.path.dirname(os.path.abspath(path))
    prefix = f".{os.path.basename(path)}{TMP_MARK}{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")  # "'" too, so that the quoting can be undone


def spreadsheet_text(value):
    """A text cell a spreadsheet would run as a formula (``=cmd|' /C calc'!A0``) as quoted text:
    ``'`` in front; other values unchanged. :func:`spreadsheet_value` undoes it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_value(value):
    """The cell :func:`spreadsheet_text` was given."""
    if isinstance(value, str) and value.startswith("'"):
        return value[1:]
    return value


def spreadsheet_safe(frame):
    """A copy of ``frame`` whose text cells are :func:`spreadsheet_text` (numbers stay numbers)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(spreadsheet_text)
    return out
