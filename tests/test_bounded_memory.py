"""Bounded working sets (issue 31): the relink's links under a small DuckDB memory cap whatever the
syndication, and discovery that does not read files unchanged since the last run."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from flows.relink import relink
from storage.backend import backend_for, backend_of
from storage.frames import insert
from storage.loads import record_files
from storage.state import recorded_file_stats
from tasks import ingest, similarity

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 8
# ~2 KB of wire copy, carried by every outlet (each copy marked, as bench/scale.py marks its copies).
WIRE = "Wire copy about the harbour dredging vote and what the council said about it on Friday. " * 23


def _syndicated_paragraphs(outlets: int, per_article: int) -> pl.DataFrame:
    """`outlets` articles of `per_article` ~2 KB paragraphs; paragraph i of every outlet has nearly the
    same vector and text as paragraph i of the others (one paragraph in `outlets` outlets)."""
    rng = np.random.default_rng(0)
    ids = [f"outlet{a:03d}-{i:04d}" for a in range(outlets) for i in range(per_article)]
    texts = [f"{WIRE} paragraph {i} (copy {a % 3})" for a in range(outlets) for i in range(per_article)]
    vectors = np.zeros((len(ids), DIMENSION))
    vectors[np.arange(len(ids)), np.arange(len(ids)) % per_article % DIMENSION] = 1.0
    vectors += 0.01 * rng.standard_normal(vectors.shape)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return pl.DataFrame({
        "paragraph_id": ids, "article_id": [i.split("-")[0] for i in ids],
        "position": [int(i.split("-")[1]) for i in ids], "text": texts,
        "text_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts], "n_words": [300] * len(ids),
        "embedding": vectors.astype(np.float32), "model": ["test"] * len(ids),
    }).with_columns(pl.col("position", "n_words").cast(pl.Int32), pl.col("embedding").cast(pl.Array(pl.Float32, DIMENSION)))


def _links_after_relink(path: Path, paragraphs: pl.DataFrame, memory_limit: str) -> pl.DataFrame:
    with backend_for(path).connect() as con:
        backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        insert(con, "paragraphs", paragraphs)
        con.execute("insert into relink_queue select paragraph_id, true from paragraphs")
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("begin transaction")
        relink(con, 0.5, 5, 10**9, path.with_name(path.name + ".hnsw"), DIMENSION)
        con.execute("commit")
        return con.execute("select * from paragraph_similarity order by all").pl()


def test_links_of_widely_syndicated_copy_fit_a_small_memory_cap(tmp_path: Path) -> None:
    """60 outlets carry the same ten ~2 KB paragraphs. Joined into the pairs' aggregate, their texts
    outgrew a 32 MB cap (as 128 MB did on BBC x4 at 4,500 articles); read a block of paragraphs at a
    time after an aggregate of ids, the links are made, and are those of an uncapped run."""
    paragraphs = _syndicated_paragraphs(60, 10)
    capped = _links_after_relink(tmp_path / "capped.duckdb", paragraphs, "32MB")
    assert capped.height > 2_000 and (capped["kind"] == "copy").all()
    # The reference: every pair's texts joined in SQL, uncapped, the overlap computed pair by pair.
    with duckdb.connect(str(tmp_path / "capped.duckdb")) as con:
        pairs = con.execute(
            "select s.paragraph_id_a, s.paragraph_id_b, a.text as text_a, b.text as text_b from paragraph_similarity s "
            "join paragraphs a on a.paragraph_id = s.paragraph_id_a join paragraphs b on b.paragraph_id = s.paragraph_id_b "
            "order by all").pl()
    overlaps = [similarity.lexical_overlap(a, b) for a, b in pairs.select("text_a", "text_b").iter_rows()]
    assert np.allclose(capped["lexical_overlap"].to_numpy(), np.array(overlaps, dtype=np.float32))
    uncapped = _links_after_relink(tmp_path / "uncapped.duckdb", paragraphs, "4GB")
    assert capped.equals(uncapped)


def test_links_are_the_same_whatever_the_block_of_texts() -> None:
    """Texts asked a few paragraphs at a time give the links of one block, and no block asks for more."""
    rows = [(f"p{i:03d}", f"p{j:03d}") for i in range(30) for j in range(i + 1, min(i + 4, 30))]
    pairs = pl.DataFrame({"paragraph_id_a": [a for a, _ in rows], "paragraph_id_b": [b for _, b in rows],
                          "article_id_a": [a[:3] for a, _ in rows], "article_id_b": [b[:3] for _, b in rows],
                          "cosine": [0.9] * len(rows)})
    texts = {f"p{i:03d}": " ".join(f"word{(i // 3) * 7 + k}" for k in range(12)) for i in range(30)}
    asked: list[int] = []

    def texts_of(ids: list[str]) -> dict[str, str]:
        asked.append(len(ids))
        return {i: texts[i] for i in ids}

    whole = similarity.links_from_pairs(pairs, texts_of, max_paragraphs=1_000)
    assert asked == [30]
    asked.clear()
    blocked = similarity.links_from_pairs(pairs, texts_of, max_paragraphs=5)
    assert len(asked) > 5 and max(asked) <= 5
    assert blocked.equals(whole) and whole["kind"].to_list().count("copy") > 0


# --- discovery ---

def _aged(path: Path, text: str, seconds_old: float) -> None:
    path.write_text(text)
    stamp = time.time() - seconds_old
    os.utime(path, (stamp, stamp))


def _recorded(files: pl.DataFrame) -> pl.DataFrame:
    """What record_files keeps of a discovery, as recorded_file_stats reads it back."""
    return files.filter(pl.col("mtime_ns").is_not_null() & pl.col("content_sha256").is_not_null()).select(
        "source_path", "size_bytes", "mtime_ns", "content_sha256")


def test_discovery_reads_no_file_unchanged_since_it_was_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for n in range(5):
        _aged(raw / f"old{n}.txt", f"Title {n}\n\nBody of article {n}.\n", 3_600)
    _aged(raw / "fresh.txt", "Fresh\n\nWritten just now: its mtime could still hide a write.\n", 0)
    reads: list[Path] = []
    real_read = ingest.read_regular_file

    def counting_read(path: Path, *args: object, **kwargs: object) -> bytes:
        reads.append(path)
        return real_read(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ingest, "read_regular_file", counting_read)
    first = ingest.discover_files(raw, 1_000_000)
    assert len(reads) == 6 and first.filter(pl.col("source_path") == "fresh.txt")["mtime_ns"].to_list() == [None]
    reads.clear()
    second = ingest.discover_files(raw, 1_000_000, recorded=_recorded(first))
    assert [p.name for p in reads] == ["fresh.txt"]  # the five older ones: size and mtime as hashed
    assert second.drop("mtime_ns").equals(first.drop("mtime_ns"))
    # Same size, other content, its mtime moved (as any write moves it): hashed again.
    _aged(raw / "old2.txt", "Title X\n\nBody of article 2.\n", 1_800)
    reads.clear()
    third = ingest.discover_files(raw, 1_000_000, recorded=_recorded(second))
    assert sorted(p.name for p in reads) == ["fresh.txt", "old2.txt"]
    hashes = dict(third.select("source_path", "content_sha256").iter_rows())
    assert hashes["old2.txt"] == hashlib.sha256((raw / "old2.txt").read_bytes()).hexdigest() != dict(
        first.select("source_path", "content_sha256").iter_rows())["old2.txt"]
    # A recorded mtime newer than the trust window is not trusted, even when it matches.
    _aged(raw / "old3.txt", "Title 3\n\nBody of article 3.\n", 0.5)
    stats = (raw / "old3.txt").stat()
    recent = pl.DataFrame({"source_path": ["old3.txt"], "size_bytes": [stats.st_size], "mtime_ns": [stats.st_mtime_ns],
                           "content_sha256": ["stale"]})
    reads.clear()
    fourth = ingest.discover_files(raw, 1_000_000, recorded=recent)
    assert "old3.txt" in [p.name for p in reads]
    assert dict(fourth.select("source_path", "content_sha256").iter_rows())["old3.txt"] != "stale"


@pytest.mark.parametrize("kind", ["file", "lake"])
def test_file_mtimes_are_recorded_and_read_back(tmp_path: Path, kind: str) -> None:
    """ingest_files keeps mtime_ns (added by `alter table` to a warehouse from before it, a DuckLake too)."""
    target = tmp_path / "w.duckdb" if kind == "file" else Path(f"ducklake:{tmp_path / 'meta.ducklake'}")
    files = pl.DataFrame({
        "source_path": ["a.txt", "b.txt"], "content_sha256": ["h1", None], "size_bytes": [10, 5],
        "status": ["loaded", "failed"], "change": ["new", "new"], "duplicate_of": [None, None],
        "encoding": ["utf-8", None], "error": [None, "cannot read file"], "article_id": ["x", "y"],
        "mtime_ns": [1_700_000_000_000_000_000, None]}, schema_overrides={"duplicate_of": pl.String, "mtime_ns": pl.Int64})
    with backend_for(target).connect() as con:
        if kind == "file":  # a warehouse from before mtime_ns
            con.execute(
                "create table ingest_files (source_path varchar primary key, content_sha256 varchar, size_bytes bigint, "
                "status varchar not null, change varchar, duplicate_of varchar, encoding varchar, error varchar, "
                "article_id varchar, first_seen_at timestamp not null, last_seen_at timestamp not null, run_id varchar not null)")
            assert recorded_file_stats(con).height == 0  # nothing to reuse: every file is read
        for _ in range(2):  # the upgrade is idempotent
            backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        record_files(con, files, "run-1")
        assert recorded_file_stats(con).rows() == [("a.txt", 10, 1_700_000_000_000_000_000, "h1")]
        record_files(con, files.with_columns(mtime_ns=pl.lit(None, dtype=pl.Int64)), "run-2")  # hashed, not trusted
        assert recorded_file_stats(con).height == 0
