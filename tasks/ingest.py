"""Discover raw files, read and decode them, and plan which ones need (re)processing."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import queue
import stat
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import ftfy
import polars as pl

from tasks.settings import Settings

FILE_SCHEMA = {
    "source_path": pl.String,
    "size_bytes": pl.Int64,
    "content_sha256": pl.String,
    "error": pl.String,
    "mtime_ns": pl.Int64,  # st_mtime_ns, only when over MTIME_TRUSTED_AFTER_NS old at discovery (else null)
}
# A file's (size, mtime) stands for its content only when the mtime is this much older than the
# discovery that hashed it: a write within the same mtime tick (2 s on FAT, 1 s on ext3/HFS+) after
# the hash would leave both unchanged (git's "racy" index entries). Newer files are hashed every run.
MTIME_TRUSTED_AFTER_NS = 2_000_000_000
DOCUMENT_SCHEMA = {
    "article_id": pl.String,
    "source_path": pl.String,
    "content_sha256": pl.String,
    "encoding": pl.String,
    "text": pl.String,
    "error": pl.String,
}


class UnreadableFile(Exception):
    """A file that cannot become an article; the message is the reason recorded for it."""


def article_id_for(source_path: str) -> str:
    """Stable id: a file keeps its article_id when its content changes."""
    return hashlib.sha256(source_path.encode("utf-8")).hexdigest()[:16]


# A read that has not finished after this long (a hung network drive or FUSE mount) is that file's failure.
READ_TIMEOUT_S = 30.0
# NEWSDAG_MAX_FILE_BYTES's default, for callers that pass no limit.
DEFAULT_MAX_FILE_BYTES: int = Settings.model_fields["max_file_bytes"].default
_CHUNK = 1 << 20


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a symlink"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _too_large(size: int | str, max_bytes: int) -> UnreadableFile:
    return UnreadableFile(f"file too large: {size} bytes (limit {max_bytes}, NEWSDAG_MAX_FILE_BYTES; raise it to read this file)")


def _read_once(path: Path, max_bytes: int, follow_symlinks: bool) -> bytes:
    """One attempt: open without blocking, check what was opened is a regular file, read at most
    `max_bytes`. The check is on the opened descriptor, so a path swapped for a FIFO or device after it
    was discovered is refused, never waited on; without `follow_symlinks` a path swapped for a symlink is too."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:  # a loop of symlinks, or (O_NOFOLLOW) a symlink put in place since the check
            raise UnreadableFile("symlink loop (not followed)" if follow_symlinks
                                 else "became a symlink after it was checked (not followed)") from None
        if error.errno in (errno.ENXIO, errno.ENODEV):  # a socket, or a device with nothing behind it
            raise UnreadableFile("not a regular file (a socket or a device)") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"not a regular file ({_kind(info.st_mode)})")
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes)
        chunks: list[bytes] = []
        remaining = max_bytes + 1  # one byte more than allowed tells a file that grew past the limit
        while remaining > 0:
            chunk = os.read(fd, min(_CHUNK, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        if remaining <= 0:
            raise _too_large(f"over {max_bytes}", max_bytes)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _read_bytes(
    path: Path, attempts: int = 3, delay_s: float = 0.2, *, max_bytes: int = DEFAULT_MAX_FILE_BYTES,
    follow_symlinks: bool = False,
) -> bytes:
    """Read a regular file, retrying transient failures (a file locked or being replaced mid-read)."""
    for attempt in range(1, attempts + 1):
        try:
            return _read_once(path, max_bytes, follow_symlinks)
        except FileNotFoundError:
            raise UnreadableFile("file vanished before it could be read") from None
        except IsADirectoryError:
            raise UnreadableFile("not a regular file (a folder)") from None
        except OSError as error:
            if attempt == attempts:
                raise UnreadableFile(f"cannot read file: {error.strerror or error}") from None
            time.sleep(delay_s * attempt)
    raise AssertionError("unreachable")


class _ReadWorker:
    """A daemon thread that runs reads handed to it, so that the caller can stop waiting for one."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[tuple[Callable[[], bytes], threading.Event, list[tuple[bool, object]]]] = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="newsdag-read", daemon=True).start()

    def _serve(self) -> None:
        while True:
            work, done, outcome = self.jobs.get()
            try:
                outcome.append((True, work()))
            except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
                outcome.append((False, error))
            done.set()


# Workers waiting for a read (one per concurrent caller): starting a thread per file tripled discovery's time.
_idle_workers: list[_ReadWorker] = []
_idle_lock = threading.Lock()


def _forget_workers() -> None:
    """A forked child has none of its parent's threads: it starts its own workers."""
    global _idle_lock
    _idle_workers.clear()
    _idle_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_workers)


def _within(timeout_s: float, work: Callable[[], bytes]) -> bytes:
    """`work()` on a worker thread, or UnreadableFile if it has not finished after `timeout_s`: a read stuck
    in the kernel cannot be interrupted, so its worker is left behind (holding one descriptor) and the run goes on."""
    with _idle_lock:
        worker = _idle_workers.pop() if _idle_workers else _ReadWorker()
    done = threading.Event()
    outcome: list[tuple[bool, object]] = []
    worker.jobs.put((work, done, outcome))
    if not done.wait(timeout_s):
        raise UnreadableFile(f"read did not finish within {timeout_s:g} s (a hung network drive?): left unread")
    with _idle_lock:
        _idle_workers.append(worker)
    finished, value = outcome[0]
    if finished:
        return value  # type: ignore[return-value]
    raise value  # type: ignore[misc]


def read_regular_file(
    path: Path, max_bytes: int, timeout_s: float = READ_TIMEOUT_S, *, follow_symlinks: bool = False,
    attempts: int = 3, delay_s: float = 0.2,
) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, never blocking: a FIFO, device or socket (even
    one put in place since the path was checked), a larger file, a read failing `attempts` times or one
    not done within `timeout_s` raise UnreadableFile with the reason."""
    return _within(timeout_s, lambda: _read_bytes(path, attempts, delay_s, max_bytes=max_bytes,
                                                  follow_symlinks=follow_symlinks))


def _source_path(path: Path, root: Path) -> tuple[str, bool]:
    """The path as stored (relative, '/'-separated) and whether the name is valid UTF-8. A name that is not
    (os.listdir hands its bytes over as surrogates, which the warehouse's VARCHAR and Prefect's artifacts
    cannot hold) is stored with the odd bytes written as backslash escapes: 'caf\\xe9.txt'."""
    relative = path.relative_to(root).as_posix()
    try:
        relative.encode("utf-8")
        return relative, True
    except UnicodeEncodeError:
        return os.fsencode(relative).decode("utf-8", "backslashreplace"), False


def _resolve_inside(path: Path, root: Path) -> Path:
    """The real path of `path` (every symlink followed), which must exist and lie inside `root`."""
    try:
        real = Path(os.path.realpath(path, strict=True))
    except FileNotFoundError:
        raise UnreadableFile("broken symlink: its target does not exist" if path.is_symlink()
                             else "file vanished before it could be read") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnreadableFile("symlink loop (not followed)") from None
        raise UnreadableFile(f"cannot read file: {error.strerror or error}") from None
    if not real.is_relative_to(root):
        raise UnreadableFile("path leads outside the raw folder (not followed)")
    return real


def discover_files(raw_dir: Path, max_file_bytes: int, timeout_s: float = READ_TIMEOUT_S,
                   recorded: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every non-hidden file under `raw_dir`, hashed; problems (symlinks escaping the folder or looping,
    FIFOs and devices, names that are not UTF-8, oversized or unreadable files) are recorded in `error`
    instead of raising. `recorded` (`source_path`, `size_bytes`, `mtime_ns`, `content_sha256`: what an
    earlier run hashed): a file with that size and mtime, its mtime over MTIME_TRUSTED_AFTER_NS old, keeps
    that hash and is not read (hashing every file cost ~20 s per 100,000 files, every run)."""
    root = raw_dir.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"raw folder not found: {raw_dir}")
    trusted_before = time.time_ns() - MTIME_TRUSTED_AFTER_NS
    known: dict[str, tuple[int, int, str]] = {} if recorded is None else {
        path: (size, mtime, sha) for path, size, mtime, sha in
        recorded.select("source_path", "size_bytes", "mtime_ns", "content_sha256").iter_rows()
        if size is not None and mtime is not None and sha is not None}
    rows: list[dict[str, object]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        # Symlinked folders are not walked (they may leave the raw folder or loop); say so.
        for name in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            rows.append({"source_path": _source_path(Path(dirpath) / name, root)[0], "size_bytes": None,
                         "content_sha256": None, "error": "symlinked folder (not followed)", "mtime_ns": None})
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            source_path, valid_name = _source_path(path, root)
            row: dict[str, object] = {"source_path": source_path, "size_bytes": None, "content_sha256": None, "error": None,
                                      "mtime_ns": None}
            rows.append(row)
            try:
                if not valid_name:
                    raise UnreadableFile("file name is not valid UTF-8: rename the file (its name is stored with "
                                         "the odd bytes escaped)")
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    path = _resolve_inside(path, root)
                    info = os.stat(path)
                    if not stat.S_ISREG(info.st_mode):
                        raise UnreadableFile(f"symlink does not point to a regular file ({_kind(info.st_mode)})")
                elif not stat.S_ISREG(info.st_mode):
                    raise UnreadableFile(f"not a regular file ({_kind(info.st_mode)})")
                row["size_bytes"] = info.st_size
                if info.st_size == 0:
                    raise UnreadableFile("empty file")
                if info.st_size > max_file_bytes:
                    raise _too_large(info.st_size, max_file_bytes)
                trusted = info.st_mtime_ns < trusted_before
                if trusted and known.get(source_path, (None, None, None))[:2] == (info.st_size, info.st_mtime_ns):
                    row["content_sha256"], row["mtime_ns"] = known[source_path][2], info.st_mtime_ns
                    continue
                # Checked again as it is opened: the path may have become a FIFO or a symlink meanwhile.
                data = read_regular_file(path, max_file_bytes, timeout_s)
                row["size_bytes"] = len(data)
                row["content_sha256"] = hashlib.sha256(data).hexdigest()
                # The mtime seen before the read: a write during it changes the mtime seen next run.
                row["mtime_ns"] = info.st_mtime_ns if trusted and len(data) == info.st_size else None
            except UnreadableFile as problem:
                row["error"] = str(problem)
            except FileNotFoundError:  # listed, then gone before it was looked at
                row["error"] = "file vanished before it could be read"
            except OSError as error:
                row["error"] = f"cannot read file: {error.strerror or error}"
    return pl.DataFrame(rows, schema=FILE_SCHEMA)


# Byte-order marks, longest first (UTF-32-LE's mark begins with UTF-16-LE's).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
)
# Encodings charset-normalizer may name for text with NUL bytes that is still text.
_WIDE_ENCODINGS = ["utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le", "utf_32_be"]


def _non_latin_letters(text: str) -> bool:
    """Letters beyond the Latin blocks: a single-byte guess other than cp1252 (KOI8-R, Greek, ...) is then
    worth more than cp1252's reading of the same bytes (which would be all Latin mojibake)."""
    return any(ord(ch) > 0x24F and ch.isalpha() for ch in text[:8192])


def _detect(data: bytes, candidates: list[str] | None = None) -> tuple[str, str] | None:
    """charset-normalizer's best reading of the bytes (text, encoding name), or None."""
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=candidates).best() if candidates else from_bytes(data).best()
    if best is None:
        return None
    return str(best), best.encoding.replace("_", "-")


def _decode(data: bytes) -> tuple[str, str]:
    """The text and the name of the encoding used: a byte-order mark, else UTF-8, else (bytes with NULs)
    UTF-16/32 without a mark, else Windows-1252 unless charset-normalizer finds a non-Latin script."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                raise UnreadableFile(f"not valid {encoding} text despite its byte-order mark") from None
    if b"\x00" in data[:8192]:
        # Before UTF-8: ASCII text in UTF-16 is valid UTF-8 too (with a NUL after every letter).
        detected = _detect(data, _WIDE_ENCODINGS)
        if detected is None:
            raise UnreadableFile("binary file (contains NUL bytes)")
        return detected
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    detected = _detect(data)
    if detected is not None and _non_latin_letters(detected[0]):
        return detected
    for encoding in ("cp1252", "latin-1"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode article bytes: UTF-8 (with or without BOM), UTF-16/32 (with or without BOM), else
    Windows-1252 or Latin-1, or another encoding charset-normalizer detects for a non-Latin script.
    Mojibake is repaired with ftfy and line endings normalised to \\n."""
    if not data.strip():
        raise UnreadableFile("empty file")
    text, encoding = _decode(data)
    if not text.strip():
        raise UnreadableFile("empty file")
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.01 * min(len(text), 8192):
        raise UnreadableFile("binary file (control characters)")
    text = ftfy.fix_text(text.replace("\r\n", "\n").replace("\r", "\n"), uncurl_quotes=False)
    if not any(ch.isalpha() for ch in text):
        raise UnreadableFile("no text (no letters in the file)")
    return text, encoding


def read_documents(
    files: pl.DataFrame, raw_dir: Path, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES, timeout_s: float = READ_TIMEOUT_S,
) -> pl.DataFrame:
    """Read and decode a batch of files (`source_path`, `content_sha256`). A file that cannot be
    read or decoded keeps its row, with `text` null and the reason in `error`."""
    root = raw_dir.resolve()
    rows: list[dict[str, object]] = []
    for source_path, sha in files.select("source_path", "content_sha256").iter_rows():
        row: dict[str, object] = {
            "article_id": article_id_for(source_path),
            "source_path": source_path,
            "content_sha256": sha,
            "encoding": None,
            "text": None,
            "error": None,
        }
        try:
            # Resolved again (it may have become an outward symlink since discovery), then opened without
            # following any symlink put in place since, and refused unless it is a regular file.
            data = read_regular_file(_resolve_inside(root / source_path, root), max_file_bytes, timeout_s)
            row["content_sha256"] = hashlib.sha256(data).hexdigest()  # the bytes actually decoded
            row["text"], row["encoding"] = decode_bytes(data)
        except UnreadableFile as problem:
            row["error"] = str(problem)
        rows.append(row)
    return pl.DataFrame(rows, schema=DOCUMENT_SCHEMA)


def plan_ingest(files: pl.DataFrame, known: pl.DataFrame) -> pl.DataFrame:
    """Decide what each discovered file needs, given what the warehouse already holds.

    `known`: the warehouse's `ingest_files` (`source_path`, `content_sha256`, `status`).
    Adds `change` (new / changed / unchanged) and `action`:
    - `process`: read, clean, embed and load (new or changed content, or failed before);
    - `recheck` (set by the flow, never here): unchanged, but cleaned by other code than today's; cleaned
      again, and processed only if the result differs from what is stored;
    - `skip`: unchanged since it was loaded (or recorded as a duplicate);
    - `duplicate`: byte-identical to another file that is (or will be) loaded; `duplicate_of` says which;
    - `fail`: could not be read; `error` says why.
    """
    if "mtime_ns" not in files.columns:  # a frame not from discover_files: no mtime to record
        files = files.with_columns(mtime_ns=pl.lit(None, dtype=pl.Int64))
    previous = known.select(
        "source_path",
        pl.col("content_sha256").alias("previous_sha256"),
        pl.col("status").alias("previous_status"),
    )
    plan = files.join(previous, on="source_path", how="left").with_columns(
        change=pl.when(pl.col("previous_status").is_null())
        .then(pl.lit("new"))
        .when(pl.col("previous_sha256") == pl.col("content_sha256"))
        .then(pl.lit("unchanged"))
        .otherwise(pl.lit("changed"))
    )
    # The first path (in sort order) with given content is the original; others are duplicates.
    # A file already loaded keeps its place as the original while it still holds that content.
    loaded_owner = (
        known.filter(pl.col("status").is_in(["loaded", "unchanged"]))
        .join(files.select("source_path", "content_sha256"), on=["source_path", "content_sha256"], how="semi")
        .select("content_sha256", pl.col("source_path").alias("loaded_owner"))
        .unique("content_sha256", keep="first")
    )
    first_owner = (
        plan.filter(pl.col("error").is_null())
        .sort("source_path")
        .group_by("content_sha256", maintain_order=True)
        .agg(pl.col("source_path").first().alias("first_owner"))
    )
    plan = (
        plan.join(loaded_owner, on="content_sha256", how="left")
        .join(first_owner, on="content_sha256", how="left")
        .with_columns(
            owner=pl.when(pl.col("loaded_owner").is_in(plan["source_path"].implode()))
            .then(pl.col("loaded_owner"))
            .otherwise(pl.col("first_owner"))
        )
    )
    return plan.with_columns(
        action=pl.when(pl.col("error").is_not_null())
        .then(pl.lit("fail"))
        .when(pl.col("owner") != pl.col("source_path"))
        .then(pl.lit("duplicate"))
        .when((pl.col("change") == "unchanged") & pl.col("previous_status").is_in(["loaded", "unchanged"]))
        .then(pl.lit("skip"))
        .otherwise(pl.lit("process")),
        duplicate_of=pl.when(pl.col("error").is_null() & (pl.col("owner") != pl.col("source_path")))
        .then(pl.col("owner"))
        .otherwise(pl.lit(None, dtype=pl.String)),
    ).select(*FILE_SCHEMA, "change", "action", "duplicate_of").sort("source_path")


def cleaning_digests(articles: pl.DataFrame, removed: pl.DataFrame, paragraphs: pl.DataFrame) -> dict[str, str]:
    """{article_id: sha256 of what cleaning made of it}: its article row (metadata, body), removed spans
    and paragraphs (position, text, section heading), the same whether read from the cleaner's frames or
    from the warehouse (values compared as JSON text: a stored date or integer reads back the same)."""
    parts: dict[str, list[str]] = defaultdict(list)
    for table, frame, order in (
        ("article", articles, ()),
        ("removed", removed.select("article_id", "start_char", "end_char", "text", "reason"), ("start_char",)),
        ("paragraph", paragraphs.select("article_id", "position", "text", "section_heading"), ("position",)),
    ):
        for row in frame.sort("article_id", *order).iter_rows(named=True):
            parts[row.pop("article_id")].append(table + json.dumps(row, sort_keys=True, default=str))
    return {article_id: hashlib.sha256("\n".join(rows).encode()).hexdigest() for article_id, rows in parts.items()}


# --- shards: several runs share one raw folder (issue 18) ---

def parse_shard(shard: str) -> tuple[int, int]:
    """"i/n" -> (i, n), with 0 <= i < n."""
    index, _, count = shard.partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise ValueError(f"a shard is i/n with 0 <= i < n (e.g. 0/2), not {shard!r}")
    return int(index), int(count)


def shard_of(source_path: str, count: int) -> int:
    """A file's shard: a stable hash of its path relative to the raw folder (the same on every host,
    in every process, whatever the hash seed), so a file always belongs to the same run."""
    return int.from_bytes(hashlib.sha256(source_path.encode("utf-8")).digest()[:8], "big") % count


def select_shard(plan: pl.DataFrame, shard: str | None) -> pl.DataFrame:
    """The plan's rows of this shard's files. The plan is made over the whole folder first, so a copy
    of a file in another shard is still a duplicate of it, whichever run sees which."""
    if shard is None:
        return plan
    index, count = parse_shard(shard)
    return plan.filter(pl.col("source_path").map_elements(lambda path: shard_of(path, count), return_dtype=pl.Int64) == index)
