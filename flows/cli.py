"""`newsdag` command line: run the flow, query the warehouse, inspect the cleaner."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="newsdag: a batch pipeline for news text.")


def prefect_environment() -> None:
    """Defaults that make Prefect work offline on these machines; set before Prefect is imported."""
    os.environ.setdefault("PREFECT_HOME", str(Path(".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


RawDir = Annotated[Optional[Path], typer.Option("--raw-dir", help="Folder of raw article files [NEWSDAG_RAW_DIR].")]
Warehouse = Annotated[Optional[Path], typer.Option("--warehouse", help="DuckDB file [NEWSDAG_WAREHOUSE].")]


Ephemeral = Annotated[
    bool,
    typer.Option("--ephemeral", help="Use Prefect's temporary per-run server instead of the local background server "
                 "[NEWSDAG_PREFECT_MODE=ephemeral]."),
]


def connect_prefect(ephemeral: bool) -> str | None:
    """Use the local Prefect server (started in the background on first use) unless asked otherwise."""
    from flows.server import use_server

    mode = "ephemeral" if ephemeral else os.environ.get("NEWSDAG_PREFECT_MODE", "auto")
    api_url = use_server(mode)
    if api_url:
        typer.echo(f"Prefect API {api_url} (UI: {api_url.removesuffix('/api')})", err=True)
    return api_url


@app.command()
def run(
    raw_dir: RawDir = None, warehouse: Warehouse = None, ephemeral: Ephemeral = False,
    shard: Annotated[Optional[str], typer.Option(
        "--shard", help="Process only this share of the raw folder, i/n (files by a hash of their path) [NEWSDAG_SHARD].")] = None,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", help="Run the models on a Dask cluster: a scheduler address, or local:N worker processes [NEWSDAG_DASK].")] = None,
) -> None:
    """Run the ingest flow over the raw folder into the warehouse and print a summary."""
    prefect_environment()
    connect_prefect(ephemeral)
    from flows.ingest import ingest_flow
    from tasks import distributed_models

    try:
        state = ingest_flow(
            raw_dir=str(raw_dir) if raw_dir else None,
            warehouse_path=str(warehouse) if warehouse else None,
            shard=shard, dask=dask,
            return_state=True,
        )
    finally:
        distributed_models.close_clients()  # a LocalCluster's worker processes end with the run
    if not state.is_completed():
        raise RuntimeError(f"run {state.name.lower()}: {state.message or 'see the log above'}")
    print_summary(state.result())


@app.command()
def ui(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background server.")] = False,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Port [NEWSDAG_PREFECT_PORT, default 4200].")] = None,
) -> None:
    """Start (or reuse) the local Prefect server on 127.0.0.1 and print the UI's URL."""
    prefect_environment()
    from flows.server import start_server, stop_server

    if stop:
        typer.echo("Prefect server stopped" if stop_server() else "no newsdag Prefect server was running")
        return
    api_url = start_server(host=host, port=port)
    typer.echo(f"Prefect UI: {api_url.removesuffix('/api')}  (stop it with `newsdag ui --stop`)")


@app.command()
def serve(
    raw_dir: RawDir = None,
    warehouse: Warehouse = None,
    interval: Annotated[Optional[int], typer.Option(help="Seconds between runs (default 600 unless --cron).")] = None,
    cron: Annotated[Optional[str], typer.Option(help="Cron schedule, e.g. '*/15 * * * *'.")] = None,
    name: Annotated[str, typer.Option(help="Deployment name.")] = "scheduled",
) -> None:
    """Register the ingest flow as a scheduled Prefect deployment and run it until interrupted."""
    prefect_environment()
    connect_prefect(ephemeral=False)
    from flows.ingest import ingest_flow

    parameters = {"raw_dir": str(raw_dir) if raw_dir else None, "warehouse_path": str(warehouse) if warehouse else None}
    schedule = {"cron": cron} if cron else {"interval": interval or 600}
    typer.echo(f"serving newsdag-ingest/{name} with schedule {schedule}; Ctrl-C stops it", err=True)
    ingest_flow.serve(name=name, parameters={k: v for k, v in parameters.items() if v}, **schedule)


@app.command()
def prune(warehouse: Warehouse = None) -> None:
    """Remove the articles of files deleted from the raw folder (kept, marked `deleted`, until pruned)."""
    from tasks import warehouse as wh
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    with wh.writer_lock(settings.warehouse), wh.connect(settings.warehouse) as con:
        removed = wh.prune_deleted(con)
    typer.echo(f"pruned {removed} article(s) of deleted files")


def print_summary(summary: dict[str, object]) -> None:
    lines = [
        "newsdag run {run_id}".format(**summary),
        "  files     seen {files_seen} | new {new} | changed {changed} | unchanged {unchanged} | "
        "duplicate {duplicate} | failed {failed} | deleted {deleted}".format(**summary),
        "  warehouse articles {articles} | paragraphs {paragraphs} | entities {entities} | "
        "mentions {entity_mentions} | similarity links {paragraph_similarity}".format(**summary),
        "  seconds   " + " | ".join(f"{k} {v:.2f}" for k, v in summary["seconds_per_step"].items())  # type: ignore[union-attr]
        + f" | total {summary['wall_seconds']:.2f}",
    ]
    for source_path, error in summary["failures"]:  # type: ignore[union-attr]
        lines.append(f"  failed    {source_path}: {error}")
    typer.echo("\n".join(lines))


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SQL query, or the path of a .sql file.")],
    warehouse: Warehouse = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 50,
) -> None:
    """Run a read-only SQL query against the warehouse and print the result as a table."""
    import polars as pl

    from tasks import warehouse as wh
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    text = Path(query).read_text() if query.endswith(".sql") and Path(query).is_file() else query
    with wh.connect(settings.warehouse, read_only=True) as con:
        frame = con.execute(text).pl()
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=80, tbl_width_chars=200, tbl_hide_dataframe_shape=False):
        typer.echo(frame)


@app.command()
def clean(
    file: Annotated[Path, typer.Argument(help="A raw article file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="The whole input, each removed span marked in place.")] = False,
) -> None:
    """Show the cleaned article, its metadata, and every removed span with its reason."""
    from tasks.clean import clean_text, removed_in_place
    from tasks.ingest import decode_bytes

    text, encoding = decode_bytes(file.read_bytes())
    article = clean_text(text)
    metadata = {
        "title": article.title, "subtitle": article.subtitle, "authors": article.authors,
        "contributors": article.contributors, "published": article.published and article.published.isoformat(),
        "updated_note": article.updated_note, "url": article.url, "publisher": article.publisher,
        "dateline": article.dateline, "wire_source": article.wire_source,
        "section_headings": article.section_headings, "encoding": encoding,
        "updated": article.updated and article.updated.isoformat(), "language": article.language,
    }
    removed = [{"start": s.start, "end": s.end, "reason": s.reason, "text": s.text} for s in article.removed]
    if as_json:
        typer.echo(json.dumps({"metadata": metadata, "paragraphs": article.paragraphs, "removed": removed},
                              ensure_ascii=False, indent=2))
        return
    if diff:
        typer.echo(removed_in_place(text, article))
        return
    typer.secho("metadata", bold=True)
    for key, value in metadata.items():
        if value not in (None, [], ""):
            typer.echo(f"  {key}: {value}")
    typer.secho(f"\nremoved ({len(removed)} spans)", bold=True)
    for span in removed:
        typer.echo(f"  - [{span['reason']}] {span['text'].strip()!r}")
    typer.secho(f"\nbody ({len(article.paragraphs)} paragraphs)", bold=True)
    for number, paragraph in enumerate(article.paragraphs, start=1):
        typer.echo(f"  [{number}] {paragraph}\n")


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="What to look for: words or a sentence.")],
    warehouse: Warehouse = None,
    limit: Annotated[int, typer.Option(help="Paragraphs to show.")] = 10,
    show_sql: Annotated[bool, typer.Option("--sql", help="Also print the query that was run.")] = False,
) -> None:
    """Nearest paragraphs to a text, with article, outlet and score: full-text (BM25) and semantic
    (cosine) results fused by reciprocal rank."""
    import polars as pl

    from tasks import search as paragraph_search
    from tasks import warehouse as wh
    from tasks.embed import encode_texts
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    query = paragraph_search.search_sql(settings.embedding_dim)
    with wh.connect(settings.warehouse, read_only=True) as con:
        if not wh.has_search_index(con):
            raise RuntimeError("this warehouse has no search index yet (run `newsdag run` to build it)")
        vector = encode_texts([text], settings.embedding_model, settings.embedding_device)[0]
        frame = wh.search_paragraphs(con, query, paragraph_search.search_params(text, vector, limit))
    if show_sql:
        typer.echo(query)
    with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=100, tbl_width_chars=220):
        typer.echo(frame)


def main() -> None:
    """Entry point: errors are one clear line and a non-zero exit, not a traceback."""
    try:
        app(standalone_mode=False)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("newsdag: interrupted", err=True)
        sys.exit(130)
    except Exception as error:  # noqa: BLE001 - the CLI's contract is one line per error
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        typer.echo(f"newsdag: error: {message}", err=True)
        if os.environ.get("NEWSDAG_DEBUG"):
            raise
        sys.exit(1)


if __name__ == "__main__":
    main()
