"""The real flow on small folders: re-runs, changes, duplicates and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.conftest import SEEDS_DIR

TABLES = ("articles", "paragraphs", "entities", "entity_mentions", "paragraph_similarity", "removed_spans")


def snapshot(warehouse: Path) -> dict[str, object]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
        ids = con.execute("select paragraph_id from paragraphs order by 1").fetchall()
        articles = con.execute("select article_id, content_sha256 from articles order by 1").fetchall()
    return {"counts": counts, "paragraph_ids": ids, "articles": articles}


def test_rerun_changes_nothing(seed_run, run_flow) -> None:
    raw_dir, warehouse, first = seed_run
    before = snapshot(warehouse)
    summary = run_flow(raw_dir, warehouse)
    assert summary["unchanged"] == 5 and summary["new"] == 0 and summary["changed"] == 0
    assert "embed" not in summary["seconds_per_step"]  # nothing re-embedded
    assert snapshot(warehouse) == before
    assert first["new"] == 5 and first["failed"] == 0


def test_changed_file_replaces_rows_and_copy_is_a_duplicate(run_flow, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    shutil.copy(seeds[2], raw / "story.txt")
    shutil.copy(seeds[1], raw / "other.txt")
    warehouse = tmp_path / "w.duckdb"
    run_flow(raw, warehouse)

    shutil.copy(seeds[2], raw / "story-copy.txt")  # byte-identical under another name
    text = (raw / "story.txt").read_text()
    (raw / "story.txt").write_text(text + "\nA new closing paragraph was added by the editors.\n")
    summary = run_flow(raw, warehouse)
    # The copy holds the story's old text, which no other file holds any more: it is new, not a duplicate.
    assert (summary["changed"], summary["new"], summary["unchanged"], summary["duplicate"]) == (1, 1, 1, 0)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 3
        body = con.execute("select body from articles where source_path = 'story.txt'").fetchone()[0]
        assert body.endswith("A new closing paragraph was added by the editors.")
        assert con.execute(
            "select count(*) from paragraphs group by article_id having count(*) <> count(distinct position)"
        ).fetchall() == []

    shutil.copy(raw / "other.txt", raw / "other-copy.txt")
    summary = run_flow(raw, warehouse)
    assert summary["duplicate"] == 1
    with duckdb.connect(str(warehouse), read_only=True) as con:
        status, original = con.execute(
            "select status, duplicate_of from ingest_files where source_path = 'other-copy.txt'"
        ).fetchone()
        assert (status, original) == ("duplicate", "other.txt")
        assert con.execute("select count(*) from articles where source_path = 'other-copy.txt'").fetchone()[0] == 0


def test_bad_input_is_recorded_and_good_input_loads(run_flow, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSDAG_MAX_FILE_BYTES", "200000")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.txt").write_bytes(b"")
    (raw / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (raw / "huge.txt").write_bytes(b"Word " * 60000)
    (raw / "latin1.txt").write_bytes("Prices in London\n\nThe pint now costs £5 in central London pubs, a survey found.\n".encode("cp1252"))
    (raw / "bom-crlf.txt").write_bytes("\ufeffBOM headline\r\n\r\nA paragraph written on Windows.\r\nAnother line of it.\r\n".encode("utf-8"))
    (raw / "no-title.txt").write_text("This article has no title line at all and starts straight away with its first sentence, as some extractors leave it.\n")
    warehouse = tmp_path / "w.duckdb"
    summary = run_flow(raw, warehouse)
    assert summary["failed"] == 3 and summary["new"] == 3
    with duckdb.connect(str(warehouse), read_only=True) as con:
        failed = dict(con.execute("select source_path, error from ingest_files where status = 'failed'").fetchall())
        assert set(failed) == {"empty.txt", "binary.bin", "huge.txt"}
        assert "empty" in failed["empty.txt"] and "binary" in failed["binary.bin"] and "too large" in failed["huge.txt"]
        rows = dict(con.execute("select source_path, body from articles").fetchall())
        assert "£5" in rows["latin1.txt"]
        assert "\r" not in rows["bom-crlf.txt"] and "\ufeff" not in rows["bom-crlf.txt"]
        titles = dict(con.execute("select source_path, title from articles").fetchall())
        assert titles["bom-crlf.txt"] == "BOM headline" and titles["no-title.txt"] is None
        assert rows["no-title.txt"].startswith("This article has no title line")

    # A file that goes bad later loses nothing already loaded.
    (raw / "latin1.txt").write_bytes(b"")
    summary = run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select status from ingest_files where source_path = 'latin1.txt'").fetchone()[0] == "failed"
        assert con.execute("select count(*) from articles where source_path = 'latin1.txt'").fetchone()[0] == 1


def test_edit_that_drops_a_name_drops_its_entity_and_keeps_counts(run_flow, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    story = raw / "story.txt"
    base = (
        "Harbour talks resume\n\n"
        "Officials from Norway and Canada met in Oslo on Monday to discuss fishing quotas in the north Atlantic.\n\n"
        "The talks are expected to last three days, according to the Norwegian foreign ministry.\n"
    )
    extra = "Fisheries minister Helen Marston, who chairs the Oslo panel, said the Canadian offer was a good start.\n"
    story.write_text(base + "\n" + extra)
    (raw / "other.txt").write_text(
        "Canada raises rates\n\nThe Bank of Canada raised its main interest rate on Wednesday, citing inflation.\n"
    )
    warehouse = tmp_path / "w.duckdb"
    run_flow(raw, warehouse)

    def entity_counts() -> dict[str, int]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return dict(con.execute("select canonical_name, mention_count from entities").fetchall())

    before = entity_counts()
    assert before.get("Helen Marston") == 1
    story.write_text(base)  # the sentence naming her is edited out
    summary = run_flow(raw, warehouse)  # the flow's data checks fail it on a stale count or an orphan entity
    assert summary["changed"] == 1
    after = entity_counts()
    assert "Helen Marston" not in after
    # Oslo is still mentioned, once fewer; the other article's entities are untouched.
    assert after["Oslo"] == before["Oslo"] - 1
    assert after["Bank of Canada"] == before["Bank of Canada"]
