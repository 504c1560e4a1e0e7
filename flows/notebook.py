"""The analyst's notebook on the warehouse (marimo), served by `newsdag explore`.

Read-only: the warehouse is opened with DuckDB's own guards (no writes, no file or network access),
whatever a SQL cell asks. The warehouse path comes from NEWSDAG_WAREHOUSE (set by `newsdag explore`).
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full", app_title="newsdag explorer")


@app.cell
def _():
    import os
    from pathlib import Path

    import altair as alt
    import marimo as mo

    from storage.backend import backend_for
    from storage.readonly import read_query
    from tasks.settings import get_settings

    settings = get_settings()
    sql_dir = settings.sql_dir
    warehouse_path = Path(os.environ.get("NEWSDAG_WAREHOUSE", settings.warehouse))
    def query(sql: str):
        """One reading statement on a guarded read-only connection (no DuckDB connection is left in a
        cell's globals: marimo would adopt it as a SQL engine and try to change its locked settings)."""
        return read_query(backend_for(warehouse_path), sql)

    return alt, mo, query, sql_dir, warehouse_path


@app.cell
def _(mo, warehouse_path):
    mo.md(f"# newsdag explorer\n`{warehouse_path}` — read-only. Edit a query below and press **Run**.")
    return


@app.cell
def _(mo, sql_dir):
    example_queries = {path.stem: path.read_text() for path in sorted((sql_dir / "queries").glob("*.sql"))}
    query_choice = mo.ui.dropdown(options=list(example_queries), value=next(iter(example_queries)), label="Example query")
    query_choice
    return example_queries, query_choice


@app.cell
def _(example_queries, mo, query_choice):
    query_editor = mo.ui.code_editor(value=example_queries[query_choice.value], language="sql", min_height=160)
    run_button = mo.ui.run_button(label="Run")
    mo.vstack([query_editor, run_button])
    return query_editor, run_button


@app.cell
def _(mo, query, query_editor, run_button):
    # The chosen query runs when the page opens and whenever Run is pressed.
    run_button
    try:
        query_result = query(query_editor.value)
        query_output = mo.ui.table(query_result, selection=None, label=f"{query_result.height} rows")
    except Exception as error:  # a reader's typo: show it, keep the notebook going
        query_output = mo.callout(mo.md(f"**Query failed:** {error}"), kind="danger")
    query_output
    return


@app.cell
def _(mo):
    mo.md("## Articles per outlet and day")
    return


@app.cell
def _(alt, query, sql_dir):
    per_day = query((sql_dir / "explore" / "articles_per_outlet_day.sql").read_text())
    alt.Chart(per_day).mark_bar().encode(
        x=alt.X("day:T", title="published"), y=alt.Y("articles:Q", stack=True), color=alt.Color("outlet:N"),
        tooltip=["outlet", "day", "articles"],
    ).properties(height=260, width="container", title=f"{per_day['articles'].sum()} articles with a publication date")
    return


@app.cell
def _(mo):
    mo.md("## Largest stories over time")
    return


@app.cell
def _(alt, query, sql_dir):
    largest = query((sql_dir / "explore" / "largest_stories.sql").read_text())
    # A line from first to last seen, and a dot sized by the story's articles (one-day stories are dots).
    story_base = alt.Chart(largest).encode(
        y=alt.Y("label:N", sort=alt.EncodingSortField("n_articles", order="descending"), title=None),
        tooltip=["label", "n_articles", "n_outlets", "first_seen", "last_seen"],
    )
    alt.layer(
        story_base.mark_rule(strokeWidth=3).encode(x=alt.X("first_seen:T", title="first to last seen"), x2="last_seen:T"),
        story_base.mark_circle().encode(x="first_seen:T", size=alt.Size("n_articles:Q", title="articles")),
    ).properties(height=max(120, 26 * largest.height), width="container")
    return


@app.cell
def _(mo):
    mo.md("## Most-mentioned entities")
    return


@app.cell
def _(alt, query, sql_dir):
    top_entities = query((sql_dir / "explore" / "top_entities.sql").read_text())
    alt.Chart(top_entities).mark_bar().encode(
        x=alt.X("mentions:Q"), y=alt.Y("entity:N", sort="-x", title=None), color=alt.Color("label:N"),
        tooltip=["entity", "label", "mentions"],
    ).properties(height=max(120, 20 * top_entities.height), width="container")
    return


@app.cell
def _(mo):
    mo.md("## Paragraph links between outlets")
    return


@app.cell
def _(alt, query, sql_dir):
    outlet_links = query((sql_dir / "explore" / "outlet_links.sql").read_text())
    alt.Chart(outlet_links).mark_rect().encode(
        x=alt.X("outlet_a:N", title=None), y=alt.Y("outlet_b:N", title=None), color=alt.Color("links:Q"),
        tooltip=["outlet_a", "outlet_b", "links"],
    ).properties(height=260, width="container")
    return


if __name__ == "__main__":
    app.run()
