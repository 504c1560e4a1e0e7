"""Reading and decoding raw files, and planning what to (re)process."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from tasks.ingest import UnreadableFile, decode_bytes, discover_files, plan_ingest


def test_utf8_bom_is_stripped() -> None:
    text, encoding = decode_bytes("\ufeffHeadline\n\nBody text.".encode("utf-8"))
    assert text.startswith("Headline") and encoding == "utf-8-sig"


def test_cp1252_and_latin1_pound_sign() -> None:
    text, encoding = decode_bytes("Price rose to £5 “today”.".encode("cp1252"))
    assert "£5" in text and "“today”" in text and encoding == "cp1252"
    text, _ = decode_bytes("Price rose to £5.".encode("latin-1"))
    assert "£5" in text


def test_crlf_becomes_lf() -> None:
    text, _ = decode_bytes(b"Title\r\n\r\nFirst paragraph.\r\nSecond.\r\n")
    assert "\r" not in text and text.startswith("Title\n\nFirst")


def test_mojibake_is_repaired() -> None:
    text, _ = decode_bytes("He said it wasnâ€™t true.".encode("utf-8"))
    assert "wasn’t" in text


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"  \n\n ", "empty"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"), (b"12345 67890", "no text")],
)
def test_unreadable_inputs_give_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        decode_bytes(data)


def test_discover_records_problems_without_raising(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "good.txt").write_text("Title\n\nText.")
    (raw / "big.txt").write_bytes(b"x" * 2000)
    (raw / ".hidden").write_text("ignored")
    outside = tmp_path / "secret.txt"
    outside.write_text("not yours")
    (raw / "escape.txt").symlink_to(outside)
    (raw / "inside.txt").symlink_to(raw / "good.txt")
    files = discover_files(raw, max_file_bytes=1000)
    errors = dict(files.select("source_path", "error").iter_rows())
    assert set(errors) == {"good.txt", "big.txt", "escape.txt", "inside.txt"}
    assert errors["good.txt"] is None and errors["inside.txt"] is None
    assert "too large" in errors["big.txt"]
    assert "outside the raw folder" in errors["escape.txt"]


def test_plan_marks_new_changed_unchanged_and_duplicates() -> None:
    files = pl.DataFrame(
        {
            "source_path": ["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"],
            "size_bytes": [1, 1, 1, 1, 1],
            "content_sha256": ["h1", "h2new", "h1", "h3", None],
            "error": [None, None, None, None, "empty file"],
        }
    )
    known = pl.DataFrame(
        {"source_path": ["a.txt", "b.txt"], "content_sha256": ["h1", "h2"], "status": ["loaded", "loaded"]}
    )
    plan = {row["source_path"]: row for row in plan_ingest(files, known).iter_rows(named=True)}
    assert (plan["a.txt"]["change"], plan["a.txt"]["action"]) == ("unchanged", "skip")
    assert (plan["b.txt"]["change"], plan["b.txt"]["action"]) == ("changed", "process")
    assert (plan["c.txt"]["action"], plan["c.txt"]["duplicate_of"]) == ("duplicate", "a.txt")
    assert (plan["d.txt"]["change"], plan["d.txt"]["action"]) == ("new", "process")
    assert plan["e.txt"]["action"] == "fail"
