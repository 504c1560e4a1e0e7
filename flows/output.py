"""How the command line writes result frames: a table for people, CSV / JSON / Markdown for pipes."""

from __future__ import annotations

import json
import shutil
from enum import Enum
from pathlib import Path

import polars as pl


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


def _plain_floats(frame: pl.DataFrame) -> pl.DataFrame:
    """Float32 values as the numbers they were written as (0.848, not 0.8479999899864197)."""
    return frame.with_columns(
        pl.col(name).cast(pl.Float64).round(6) for name, dtype in frame.schema.items() if dtype == pl.Float32
    )


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, arrays, structs) as JSON text: CSV and Markdown cells hold one value."""
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    if not nested:
        return frame
    return frame.with_columns(
        pl.col(name).map_elements(lambda value: json.dumps(_plain(value), ensure_ascii=False), return_dtype=pl.String)
        for name in nested
    )


def _plain(value: object) -> object:
    if isinstance(value, pl.Series):
        return value.to_list()
    return value


def _markdown(frame: pl.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; pipes and line breaks inside cells escaped."""

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")

    lines = ["| " + " | ".join(cell(name) for name in frame.columns) + " |",
             "|" + "|".join("---" for _ in frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines) + "\n"


def render(frame: pl.DataFrame, output_format: OutputFormat, max_rows: int = 50, max_chars: int = 80) -> str:
    """The frame as text in the asked format. Only `table` is cut to `max_rows` (a screen); the
    machine formats carry every row."""
    if output_format is OutputFormat.csv:
        return _flat(frame).write_csv()
    if output_format is OutputFormat.json:
        # One JSON array of row objects; dates and timestamps as ISO strings.
        return json.dumps(frame.to_dicts(), ensure_ascii=False, default=str, indent=2) + "\n"
    if output_format is OutputFormat.markdown:
        return _markdown(_flat(frame))
    # Polars' own table, drawn for a terminal: box lines, columns fitted to the terminal's width, long text
    # cut with an ellipsis, no dtype row or shape line (its debugging repr); the row count under it.
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=max_chars,
                   tbl_width_chars=shutil.get_terminal_size(fallback=(160, 24)).columns,
                   tbl_formatting="UTF8_FULL_CONDENSED", tbl_hide_column_data_types=True,
                   tbl_hide_dataframe_shape=True):
        table = str(frame)
    shown = f" (the first {max_rows} shown)" if frame.height > max_rows else ""
    return f"{table}\n{frame.height} row{'' if frame.height == 1 else 's'}{shown}\n"


def write(frame: pl.DataFrame, output_format: OutputFormat, output: Path | None, max_rows: int = 50,
          max_chars: int = 80) -> str | None:
    """Write to `output` (and return None) or return the text for the terminal."""
    text = render(_plain_floats(frame), output_format, max_rows, max_chars)
    if output is None:
        return text
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    return None
