"""A run that adds, changes and deletes nothing does nothing: the derived steps (entities resolved over the
warehouse, topics and stories, the content checks) are skipped when the content version and the inputs
that shape them equal what they recorded (issue 31), and are redone after any content change, a crash
between load and derive included."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import SEEDS_DIR

pytestmark = pytest.mark.slow  # the real flow, models included

DERIVED_TABLES = ("entities", "entity_mentions", "quotes", "article_similarity", "article_vectors", "stories",
                  "story_articles", "topics")
SKIPPED = ["resolve-entities", "group-stories", "check-warehouse"]


def derived_rows(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {table: con.execute(f"select * from {table} order by all").fetchall() for table in DERIVED_TABLES}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the flow settled entities, rebuilt stories and ran the content checks."""
    import flows.ingest as ingest

    counted: Counter[str] = Counter()

    def counting(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name if kwargs.get("only") is None else f"{name} (bookkeeping)"] += 1
            return original(*args, **kwargs)
        return wrapper

    for name in ("settle_entities", "rebuild_derived", "run_checks"):
        monkeypatch.setattr(ingest, name, counting(name, getattr(ingest, name)))
    return counted


def test_a_run_with_nothing_changed_skips_the_derived_steps_and_a_change_or_a_crash_redoes_them(
    run_flow, calls: Counter[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    import flows.ingest as ingest

    raw, warehouse = tmp_path / "raw", tmp_path / "w.duckdb"
    raw.mkdir()
    files = sorted(SEEDS_DIR.glob("*.txt"))
    for path in files:
        shutil.copy(path, raw / path.name)
    first = run_flow(raw, warehouse)
    assert first["new"] == 5 and first["derived"] == "recomputed" and first["derived_steps_skipped"] == []
    assert calls == Counter({"settle_entities": 1, "rebuild_derived": 1, "run_checks": 1})
    before = derived_rows(warehouse)

    # Nothing changed: no resolution, no grouping, no content check.
    calls.clear()
    second = run_flow(raw, warehouse)
    assert second["unchanged"] == 5 and second["derived"] == "current"
    assert second["derived_steps_skipped"] == SKIPPED
    assert calls == Counter({"run_checks (bookkeeping)": 1})
    assert second["seconds_per_step"]["stories"] < 0.5 and second["seconds_per_step"]["check"] < 0.5
    assert derived_rows(warehouse) == before

    # A new copy of a stored file only records a file: still current.
    shutil.copy(raw / files[0].name, raw / "copy-of-first.txt")
    calls.clear()
    third = run_flow(raw, warehouse)
    assert third["duplicate"] == 1 and third["derived"] == "current"
    assert calls == Counter({"run_checks (bookkeeping)": 1})

    # One file's content changed: derived again.
    edited = raw / files[1].name
    edited.write_text(edited.read_text() + "\n\nA closing paragraph added to the article by its editors today.\n")
    calls.clear()
    fourth = run_flow(raw, warehouse)
    assert fourth["changed"] == 1 and fourth["derived"] == "recomputed"
    assert calls == Counter({"settle_entities": 1, "rebuild_derived": 1, "run_checks": 1})

    # A run that dies after loading a change and before grouping: the next run, with nothing new in the
    # folder, groups (and checks) what the dead run loaded.
    edited = raw / files[2].name
    edited.write_text(edited.read_text() + "\n\nAnother closing paragraph, added before a crash.\n")

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed between load and derive")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "rebuild_derived", dies)
        crashed = ingest.ingest_flow(raw_dir=str(raw), warehouse_path=str(warehouse), return_state=True)
    assert not crashed.is_completed()
    calls.clear()
    after_crash = run_flow(raw, warehouse)
    assert after_crash["changed"] == 0 and after_crash["new"] == 0 and after_crash["derived"] == "recomputed"
    # entities were settled (and recorded) by the dead run: only grouping and checks are left
    assert after_crash["derived_steps_skipped"] == ["resolve-entities"]
    assert calls == Counter({"rebuild_derived": 1, "run_checks": 1})
    with duckdb.connect(str(warehouse), read_only=True) as con:
        unstoried = con.execute("select count(*) from articles anti join story_articles using (article_id)").fetchone()
    assert unstoried == (0,)

    calls.clear()
    assert run_flow(raw, warehouse)["derived"] == "current"
    assert calls == Counter({"run_checks (bookkeeping)": 1})


def test_a_run_killed_after_its_load_leaves_the_derived_steps_to_the_next(
    run_flow, calls: Counter[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Killed before resolving entities (right after its batches loaded): the next run resolves, groups
    and checks, and ends with the warehouse a fresh run over the folder makes."""
    import flows.ingest as ingest

    raw, warehouse, fresh = tmp_path / "raw", tmp_path / "w.duckdb", tmp_path / "fresh.duckdb"
    raw.mkdir()
    for path in sorted(SEEDS_DIR.glob("*.txt"))[:3]:
        shutil.copy(path, raw / path.name)
    run_flow(raw, warehouse)
    for path in sorted(SEEDS_DIR.glob("*.txt"))[3:]:
        shutil.copy(path, raw / path.name)

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed between load and derive")

    with monkeypatch.context() as patch:
        patch.setattr(ingest, "settle_entities", dies)
        assert not ingest.ingest_flow(raw_dir=str(raw), warehouse_path=str(warehouse), return_state=True).is_completed()
    calls.clear()
    summary = run_flow(raw, warehouse)
    assert summary["new"] == 0 and summary["derived"] == "recomputed" and summary["derived_steps_skipped"] == []
    assert calls == Counter({"settle_entities": 1, "rebuild_derived": 1, "run_checks": 1})
    run_flow(raw, fresh)

    def membership(path: Path) -> list[tuple]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute("select sa.article_id, count(*) over (partition by story_id) from story_articles sa "
                               "order by all").fetchall()

    assert membership(warehouse) == membership(fresh)
