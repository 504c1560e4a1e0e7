"""`newsdag` command line: run the flow, query the warehouse, inspect the cleaner."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from flows.output import OutputFormat

app = typer.Typer(add_completion=False, no_args_is_help=True, help="newsdag: a batch pipeline for news text.")


def prefect_environment() -> None:
    """Defaults that make Prefect work offline on these machines; set before Prefect is imported."""
    os.environ.setdefault("PREFECT_HOME", str(Path(".prefect").resolve()))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Heartbeats let the server mark a run whose process died as Crashed (flows/server.py).
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "30")


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
    raw_dir: RawDir = None,
    warehouse: Warehouse = None,
    ephemeral: Ephemeral = False,
    allow_empty: Annotated[bool, typer.Option(
        "--allow-empty", help="Accept an empty raw folder: every stored article is then marked deleted "
        "[NEWSDAG_ALLOW_EMPTY].")] = False,
    shard: Annotated[Optional[str], typer.Option(
        "--shard", help="Process only this share of the raw folder, i/n (files by a hash of their path) [NEWSDAG_SHARD].")] = None,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", help="Run the models on a Dask cluster: a scheduler address, or local:N worker processes [NEWSDAG_DASK].")] = None,
) -> None:
    """Run the ingest flow over the raw folder into the warehouse and print a summary."""
    try:
        check_before_run(raw_dir, warehouse, shard=shard, dask=dask)
        prefect_environment()
        connect_prefect(ephemeral)
        from flows.ingest import ingest_flow

        state = ingest_flow(
            raw_dir=str(raw_dir) if raw_dir else None,
            warehouse_path=str(warehouse) if warehouse else None,
            allow_empty=True if allow_empty else None,
            shard=shard, dask=dask,
            return_state=True,
        )
    finally:
        # A LocalCluster's worker processes end with the run (imported only if a check or the flow used it:
        # a refused setting should answer without loading the model modules).
        if "runtime.distributed_models" in sys.modules:
            sys.modules["runtime.distributed_models"].close_clients()
    if not state.is_completed():
        raise RuntimeError(f"run {state.name.lower()}: {state.message or 'see the log above'}")
    print_summary(state.result())


def check_before_run(raw_dir: Path | None, warehouse: Path | None, shard: str | None = None,
                     dask: str | None = None) -> None:
    """What would stop a run, said in one line before Prefect starts (seconds): an invalid setting (a shard
    out of range, a raw folder that is a file), no raw folder, a warehouse another run is writing, one that
    is open elsewhere or from a newer DuckDB, a Dask scheduler that does not answer. The flow checks again."""
    from storage.backend import backend_for
    from tasks.settings import get_settings

    settings = get_settings(raw_dir=raw_dir, warehouse=warehouse, shard=shard, dask=dask)
    if not settings.raw_dir.is_dir():
        raise FileNotFoundError(
            f"raw folder {settings.raw_dir} does not exist: create it and put article files in it, "
            "or point --raw-dir (NEWSDAG_RAW_DIR) at your files"
        )
    backend_for(settings.warehouse).check_writable()
    if settings.dask:  # last: the client it opens is kept for the run (closed by `run` whatever happens)
        from runtime import distributed_models

        distributed_models.check_scheduler(settings.dask)


@app.command()
def ui(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the background server (not while a flow run uses it).")] = False,
    force: Annotated[bool, typer.Option("--force", help="With --stop: stop it even while flow runs use it.")] = False,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback exposes the server.")] = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Port [NEWSDAG_PREFECT_PORT, default 4200].")] = None,
) -> None:
    """Start (or reuse) the local Prefect server on 127.0.0.1 and print the UI's URL."""
    prefect_environment()
    from flows.server import server_url, start_server, stop_server_safely

    if stop:
        # Refuses, naming them, while flow runs use the server: they would fail without their API.
        stopped = stop_server_safely(f"{server_url(host, port)}/api", force=force)
        typer.echo("Prefect server stopped" if stopped else "no newsdag Prefect server was running")
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
    from storage.backend import backend_for
    from storage.loads import prune_deleted
    from storage.state import stored_embedding_dim_or_none, stored_settings
    from tasks.settings import get_settings

    from flows.relink import relink
    from tasks import similarity

    settings = get_settings(warehouse=warehouse)
    backend = backend_for(settings.warehouse)
    backend.accept_existing(settings.sql_dir, settings.embedding_dim, settings.embedding_model)
    with backend.writer_lock(), backend.connect() as con:
        # The paragraphs that had a pruned one among their neighbours are relinked, with the similarity
        # settings the warehouse was built with, in the prune's transaction.
        recorded = stored_settings(con)
        dim = stored_embedding_dim_or_none(con) or settings.embedding_dim
        backend.apply_schema(con, settings.sql_dir, dim, settings.embedding_model)
        threshold = float(recorded.get("similarity_threshold", settings.similarity_threshold))
        top_k = int(recorded.get("similarity_top_k", settings.similarity_top_k))
        exact_max = settings.similarity_exact_max if backend.has_paragraph_index_file else 2**62  # else exact search
        removed = prune_deleted(con, before_commit=lambda c: relink(
            c, threshold, top_k, exact_max, similarity.paragraph_index_path(settings.warehouse), dim))
        if removed and backend.many_writers:  # other runs may be writing: see flows/lake.py
            from flows.lake import rebuild_claimed

            rebuild_claimed(settings.model_copy(update={"similarity_exact_max": exact_max}), con, "prune")
        elif removed:
            from flows.derived import rebuild_derived, settle_entities

            settle_entities(con, settings)  # entities resolved without the pruned articles' mentions
            rebuild_derived(con, settings, run_id="prune")  # stories and search without the pruned articles
    typer.echo(f"pruned {removed} article(s) of deleted files")


@app.command()
def check(
    warehouse: Warehouse = None,
    check_all: Annotated[bool, typer.Option("--all", help="Check every stored row (a run checks what it changed).")] = False,
    output_format: Format = OutputFormat.table,
) -> None:
    """Run the data checks (sql/checks/) on the warehouse: over what the latest run changed, or with --all
    over every stored row. Exits 1 when a check finds a problem."""
    from storage.backend import backend_for
    from storage.derived import run_checks
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    with backend_for(settings.warehouse).connect_read_only() as con:
        latest = con.execute("select run_id from runs order by started_at desc limit 1").fetchone()
        if latest is None or check_all:
            problems = run_checks(con, settings.sql_dir, None if latest is None else str(latest[0]))
        else:
            problems = run_checks(con, settings.sql_dir, str(latest[0]), scoped=True)
    if problems.height:
        _emit(problems, output_format, None, 50, 80)
        sys.exit(1)  # (main() turns typer.Exit into a return value under standalone_mode=False)
    typer.echo("every check passed" + (" (every stored row)" if check_all or latest is None else " (the latest run's articles)"))


def print_summary(summary: dict[str, object]) -> None:
    lines = [
        "newsdag run {run_id}".format(**summary),
        "  files     seen {files_seen} | new {new} | changed {changed} | redone {redone} | unchanged {unchanged} | "
        "duplicate {duplicate} | failed {failed} | empty {empty} | deleted {deleted} | renamed {renamed}".format(**summary),
        "  warehouse articles {articles} | paragraphs {paragraphs} | entities {entities} | "
        "mentions {entity_mentions} | similarity links {paragraph_similarity}".format(**summary),
        "  seconds   " + " | ".join(f"{k} {v:.2f}" for k, v in summary["seconds_per_step"].items())  # type: ignore[union-attr]
        + f" | total {summary['wall_seconds']:.2f}",
    ]
    if summary.get("derived_steps_skipped"):  # already computed for what is stored
        lines.append(f"  derived   {summary.get('derived')}: skipped "
                     + ", ".join(summary["derived_steps_skipped"]))  # type: ignore[arg-type]
    for source_path, error in summary["failures"]:  # type: ignore[union-attr]
        lines.append(f"  failed    {source_path}: {error}")
    typer.echo("\n".join(lines))


Format = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table (for people), csv, json (an array of rows) or markdown.")
]
Output = Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of the terminal.")]


def _check_output_path(output: Path | None, warehouse: Path) -> None:
    """Refuse to write a result over the warehouse or the files beside it."""
    if output is None or str(warehouse).startswith("ducklake:"):  # a lake's files are not beside a path
        return
    from flows.lifecycle import warehouse_files

    target = output.resolve()
    guarded = set(warehouse_files(warehouse.resolve()))
    refused = typer.BadParameter(f"{output} is the warehouse (or a file beside it); choose another --output file")
    if target in guarded:
        raise refused
    # A hard link is the same file under another name: compare the files (device and inode), not the names.
    try:
        written = os.stat(target)
    except FileNotFoundError:
        return
    for path in guarded:
        try:
            if os.path.samestat(written, os.stat(path)):
                raise refused
        except FileNotFoundError:
            continue


def _emit(frame: object, output_format: OutputFormat, output: Path | None, max_rows: int, max_chars: int) -> None:
    from flows.output import write

    text = write(frame, output_format, output, max_rows, max_chars)  # type: ignore[arg-type]
    if text is None:
        typer.echo(f"wrote {frame.height} rows to {output}", err=True)  # type: ignore[attr-defined]
    else:
        typer.echo(text, nl=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SQL query, or the path of a .sql file.")],
    warehouse: Warehouse = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print in --format table.", min=1)] = 50,
    output_format: Format = OutputFormat.table,
    output: Output = None,
) -> None:
    """Run one read-only SQL query against the warehouse and print (or write) the result."""
    from storage.backend import backend_for
    from storage.readonly import read_query
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    _check_output_path(output, settings.warehouse)
    text = Path(query).read_text() if query.endswith(".sql") and Path(query).is_file() else query
    frame = read_query(backend_for(settings.warehouse), text)  # one reading statement, on a connection that cannot write
    _emit(frame, output_format, output, max_rows, 80)


@app.command()
def explore(
    warehouse: Warehouse = None,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 for the notebook.", min=1, max=65535)] = 2718,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open it in the default browser.")] = True,
) -> None:
    """Open the warehouse in a notebook in the browser (marimo, read-only, on 127.0.0.1): SQL over the
    warehouse, with the example queries ready to run and edit, and charts. Ctrl-C stops it."""
    import socket
    import subprocess
    import time
    import urllib.request
    import webbrowser

    from storage.backend import backend_for
    from tasks.settings import PROJECT_ROOT, get_settings

    settings = get_settings(warehouse=warehouse)
    backend = backend_for(settings.warehouse)
    with backend.connect_read_only():  # a missing or busy warehouse: one clear line, now
        pass
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} on 127.0.0.1 is taken by another program; choose another with --port")
    url = f"http://127.0.0.1:{port}"
    located = backend.absolute_location()
    env = {**os.environ, "NEWSDAG_WAREHOUSE": str(located),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    notebook = Path(__file__).resolve().parent / "notebook.py"
    # `marimo run`, behind a guard answering only requests for 127.0.0.1/localhost from its own page
    # (flows/hostguard.py): without a token, any web page could otherwise reach it by DNS rebinding.
    server = subprocess.Popen(
        [sys.executable, "-m", "flows.hostguard", "marimo", "--host", "127.0.0.1", "--port", str(port), "--",
         str(notebook), "--headless", "--no-token", "--no-sandbox", "--no-check"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the notebook server exited: {(server.stderr.read() if server.stderr else '').strip()[-300:]}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the notebook server did not answer on {url} within 60 s") from None
                time.sleep(0.3)
        typer.echo(f"newsdag explorer: {url}  (read-only; Ctrl-C stops it)", err=False)
        if open_browser:
            webbrowser.open(url)
        # `kill` (SIGTERM) stops the notebook server too, as Ctrl-C does, instead of leaving it orphaned.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


@app.command()
def status(
    warehouse: Warehouse = None,
    runs: Annotated[int, typer.Option("--runs", help="How many of the latest runs to show.", min=1)] = 5,
) -> None:
    """The latest runs (status, counts, duration), the files that failed and why, and the warehouse's size."""
    import polars as pl

    from storage.backend import backend_for
    from storage.connection import WarehouseInUse
    from storage.frames import read_frame
    from tasks.settings import get_settings

    from flows.lifecycle import warehouse_files
    from flows.progress import describe_run_state, read_run_state

    settings = get_settings(warehouse=warehouse)
    reports = settings.sql_dir / "reports"
    # A run publishes its state beside the file: DuckDB lets no other process read the file while it writes.
    backend = backend_for(settings.warehouse)
    live = read_run_state(settings.warehouse) if backend.publishes_run_state else None
    if live is not None:
        typer.secho("\n".join(describe_run_state(live)) + "\n", bold=True)
    try:
        with backend.connect_read_only() as con:
            recent = read_frame(con, (reports / "recent_runs.sql").read_text(), [runs])
            failed = read_frame(con, (reports / "failed_files.sql").read_text())
            tables = read_frame(con, (reports / "table_sizes.sql").read_text())
    except (WarehouseInUse, FileNotFoundError):
        if live is None:
            raise
        typer.echo(f"warehouse {settings.warehouse}: open for writing by this run; its tables, earlier runs and "
                   "failed files show here once the run has finished")
        return
    size = sum(path.stat().st_size for path in warehouse_files(settings.warehouse, data_only=True) if path.exists())  # (0 for a DuckLake: its files are elsewhere)
    with pl.Config(tbl_rows=50, tbl_cols=-1, fmt_str_lengths=100, tbl_width_chars=220, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        typer.secho(f"warehouse {settings.warehouse} ({size / 2**20:.1f} MB)", bold=True)
        typer.echo("  " + " | ".join(f"{name} {rows}" for name, rows in tables.iter_rows()))
        typer.secho(f"\nlatest runs ({recent.height})", bold=True)
        typer.echo(recent.drop("run_id") if recent.height else "  none yet")
        typer.secho(f"\nfailed files ({failed.height})", bold=True)
        for path, _status, error, _seen in failed.iter_rows():
            typer.echo(f"  {path}: {error}")


def _print_rules(warehouse: Path | None, as_json: bool) -> None:
    """The cleaning rules in the order they run, and how often each fired in the warehouse (when there is one)."""
    from storage.backend import backend_for
    from storage.frames import read_frame
    from tasks.cleaning import ORDER, RULES
    from tasks.settings import get_settings

    settings = get_settings(warehouse=warehouse)
    counts: dict[str, int] | None = None
    backend = backend_for(settings.warehouse)
    if backend.exists():
        with backend.connect_read_only() as con:
            query = (settings.sql_dir / "queries" / "boilerplate_removed.sql").read_text()
            counts = {row["reason"]: row["spans"] for row in read_frame(con, query).iter_rows(named=True)}
    disabled = set(settings.clean_disable)
    rows = [{"rule": rule.name, "family": rule.family, "checks": [check.name for check in ORDER if check.rule is rule],
             "description": rule.description, "disabled": rule.name in disabled or rule.family in disabled,
             "fired": None if counts is None else counts.get(rule.name, 0)} for rule in RULES]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    where = f"removed spans in {settings.warehouse}" if counts is not None else "no warehouse: counts not shown"
    typer.secho(f"{len(rows)} cleaning rules, in the order they run ({where})", bold=True)
    for number, row in enumerate(rows, start=1):
        fired = "" if row["fired"] is None else f"{row['fired']:>8,}  "
        off = "  [disabled]" if row["disabled"] else ""
        typer.echo(f"{number:>3}. {fired}{row['rule']} ({row['family']}){off}: {row['description']}")


@app.command()
def clean(
    file: Annotated[Optional[Path], typer.Argument(help="A raw article file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="The whole input, each removed span marked in place.")] = False,
    rules: Annotated[bool, typer.Option("--rules", help="List the cleaning rules in order, with how often each "
                                        "fired in the warehouse.")] = False,
    warehouse: Warehouse = None,
) -> None:
    """Show the cleaned article, its metadata, and every removed span with its reason (or, with --rules,
    the rules themselves). Rules switched off by NEWSDAG_CLEAN_DISABLE do not run."""
    from tasks.cleaning import clean_text, removed_in_place, resolve_disabled
    from tasks.ingest import UnreadableFile, decode_bytes, read_regular_file
    from tasks.settings import get_settings

    if rules:
        _print_rules(warehouse, as_json)
        return
    if file is None:
        raise typer.BadParameter("give a raw article file, or --rules")
    settings = get_settings()
    if not os.path.lexists(file):
        raise FileNotFoundError(f"{file} not found: give the path of a raw article file")
    try:  # the run's guards: a regular file (a FIFO would block, /dev/zero never end) within NEWSDAG_MAX_FILE_BYTES
        data = read_regular_file(file, settings.max_file_bytes, follow_symlinks=True)
    except UnreadableFile as problem:
        hint = "; give the path of a raw article file" if "regular file" in str(problem) else ""
        raise UnreadableFile(f"cannot clean {file}: {problem}{hint}") from None
    text, encoding = decode_bytes(data)
    article = clean_text(text, disabled=resolve_disabled(settings.clean_disable))
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
    limit: Annotated[int, typer.Option(help="Paragraphs to show.", min=1)] = 10,
    show_sql: Annotated[bool, typer.Option("--sql", help="Also print the query that was run.")] = False,
    output_format: Format = OutputFormat.table,
    output: Output = None,
) -> None:
    """Nearest paragraphs to a text, with article, outlet and score: full-text (BM25) and semantic
    (cosine) results fused by reciprocal rank."""
    from tasks import search as paragraph_search
    from storage.backend import backend_for
    from tasks.embed import encode_texts
    from tasks.settings import get_settings

    text = paragraph_search.checked_text(text)  # empty or undecodable: one line, before the model loads
    settings = get_settings(warehouse=warehouse)
    _check_output_path(output, settings.warehouse)
    backend = backend_for(settings.warehouse)
    query = paragraph_search.search_sql(settings.sql_dir, settings.embedding_dim, backend.fulltext_source)
    with backend.connect_read_only() as con:
        if not backend.has_search_index(con):  # (a warehouse from before the index, or its folder not copied)
            raise RuntimeError("the full-text index of this warehouse is missing or unreadable: run `newsdag run` "
                               "once to build it from the stored paragraphs")
        vector = encode_texts([text], settings.embedding_model, settings.embedding_device)[0]
        frame = backend.search_paragraphs(con, query, paragraph_search.search_params(text, vector, limit))
    if show_sql:
        typer.echo(query, err=output_format is not OutputFormat.table)
    _emit(frame, output_format, output, limit, 100)


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
        from tasks.settings import SettingsError

        lines = str(error).strip().splitlines() or [type(error).__name__]
        # Invalid settings: one line each; any other error: its first line.
        for message in lines if isinstance(error, SettingsError) else lines[:1]:
            typer.echo(f"newsdag: error: {message}", err=True)
        if os.environ.get("NEWSDAG_DEBUG"):
            raise
        sys.exit(1)


if __name__ == "__main__":
    main()
