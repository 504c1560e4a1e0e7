"""How the command line shows a result to people: a table drawn for a terminal, not Polars' debugging repr;
the pipeable formats as they were."""

from __future__ import annotations

import polars as pl

from flows.output import OutputFormat, render

FRAME = pl.DataFrame({
    "title": ["Kerry and Lavrov meet in London as Crimea votes on joining Russia, and the talks end without a deal"]
    + [f"story {n}" for n in range(59)],
    "articles": list(range(60)),
    "score": [0.8125] * 60,
})


def test_the_table_is_boxed_without_dtypes_or_shape_and_cuts_long_text() -> None:
    text = render(FRAME, OutputFormat.table, max_rows=50, max_chars=40)
    assert "┌" in text and "└" in text and "│ title" in text
    assert "shape:" not in text and " str " not in text and " i64 " not in text and " f64 " not in text
    assert "Kerry and Lavrov meet in London as Crime…" in text  # cut at 40 characters, an ellipsis after
    assert text.rstrip().endswith("60 rows (the first 50 shown)")
    assert render(FRAME.head(1), OutputFormat.table).rstrip().endswith("1 row")


def test_the_pipeable_formats_carry_every_row_unchanged() -> None:
    assert render(FRAME, OutputFormat.csv).splitlines()[0] == "title,articles,score"
    assert len(render(FRAME, OutputFormat.csv).splitlines()) == 61
    assert render(FRAME, OutputFormat.markdown).splitlines()[1] == "|---|---|---|"
