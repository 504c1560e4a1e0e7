"""Polars helpers shared by the steps."""

from __future__ import annotations

import polars as pl


def differing_rows(before: pl.DataFrame, after: pl.DataFrame, on: list[str]) -> pl.DataFrame:
    """The rows of either frame that the other lacks (compared on `on`, nulls equal): what rewriting
    `before` as `after` changes."""
    return pl.concat([before.join(after, on=on, how="anti", nulls_equal=True),
                      after.join(before, on=on, how="anti", nulls_equal=True)])
