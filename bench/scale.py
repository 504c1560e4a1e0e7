"""Scale benchmark (issue 31): what a scheduled run costs on a large warehouse.

    .venv/bin/python bench/scale.py --sizes 10000 100000 [--backend file] [--out bench/out/scale]
                                    [--seed-warehouse W1 W2] [--work /tmp/newsdag-scale]

Building a warehouse of 100,000 articles through the models is days of CPU here, so it is built without
them, honestly:

1. **Seed.** The real flow runs once over the source corpora (`../shared/corpora/bbc`, and
   `../shared/corpora/wikiref150` with the samples of `tests/data/stories`) into seed warehouses
   (`--seed-warehouse`, built when missing). From them: each article's raw text, every paragraph's and
   quote text's vector, and spaCy's mentions as found (`raw_mentions`).
2. **Hold-out.** 1,000 BBC articles (`--holdout`) are kept out of the copies: the "+1,000" run adds
   them as real files, through the models.
3. **Synthetic files.** Article i of a size is copy c = i // n of source article i % n, written as a text
   file: every non-blank line ends in a copy mark ` (c<c>)` (no copy's text equals another's), a line
   `Published: <date>` after the title spreads publication dates over a year, and the last word of its
   PERSON/ORG names is varied per copy (copy c takes one of c // 3 + 1 spellings of each name, so that
   the entities grow with the archive instead of collapsing into the seed's).
4. **Build.** The product's own flow (`flows.ingest.ingest_flow`, in a child process) ingests the raw
   folder: discovery, plan, read, cleaning, paragraph split, quote extraction, entity resolution,
   linking (relink, the HNSW index), the batch loads, file records, entities settled, topics and
   stories, checks: all real. Only the models are replaced: the encoder returns the seed's vector of
   the text the synthetic one was made from (copy marks stripped, names mapped back), perturbed to
   cosine ~0.9 (Gaussian noise of norm 0.45, renormalised, seeded by the text: as bench/similarity.py),
   and spaCy's NER returns the seed's mentions of that text at their offsets in the synthetic one. So
   the warehouse holds exactly what a run over those files would have recorded (article ids, content
   hashes, ingest_files rows with size and mtime), and the first timed run recognises every file as
   unchanged. Each larger size extends the previous size's built warehouse (its files are a prefix).
   The build runs with a larger DuckDB memory cap and batch size (`--build-memory`, `--build-batch`),
   settings that shape nothing stored, and links paragraphs by exact search (`--build-exact-max`, as
   NEWSDAG_SIMILARITY_EXACT_MAX): the product's HNSW-index relink (above 50,000 stored paragraphs by
   default) holds every queried paragraph's candidates' vectors at once, and at ~9,000 synthetic articles
   one batch's relink went past 10 GB (batches of 256) and 22 GB (1,000; killed by the OOM killer). Exact
   search finds the true top-k lists, which the index path approximates (re-scored exactly, recall >= 0.95
   of its candidates). After the flow the build child brings the HNSW index file beside the warehouse in
   line with the stored paragraphs (`storage.paragraph_index.settle_journal`, what a relink does first), so
   the timed runs find the index a warehouse kept by default runs has.
5. **Warm-up.** On the copy of the built warehouse and raw folder that the timed runs use, one untimed
   no-op `newsdag run` first (recorded in `warmup_<backend>_<size>.json`, left out of the table). A
   warehouse built (or partly built) by older code is migrated by the first run of newer code (new
   tables, entity partitions recorded, topics regrouped, the full-text search index built): that
   one-off cost is not what a scheduled run costs, so the warm-up takes it, and the timed runs start
   from a warehouse the code under test has already run on (as a scheduled run's warehouse has).
6. **Timed runs**, each a real `newsdag run` (the CLI, in its own process, models running for the new
   files only) on that copy, in this order: (a) a no-op run, (b) a run after 10 files changed and 10
   were deleted, (c) a run adding the 1,000 held-out articles. For each: the process's wall time, the
   flow's own wall time and per-step seconds (`runs.summary`), peak memory (RSS of the run's process
   tree, summed, sampled every 0.1 s), and the warehouse's size on disk.

`--code DIR` runs another checkout's code (a fixed commit's worktree, say): every child process (the
build's flow, each `newsdag run`) gets cwd and PYTHONPATH = DIR, which comes before the editable install's
finder, and the script checks that a child imports `flows` from DIR before anything runs. The script
wraps no child in `nice`: run the whole script under `nice -n 10` where other work shares the CPUs.
`--timed-sizes` picks the sizes whose runs are timed in this invocation (default: all of `--sizes`);
the runs of the other sizes are read back from `results_<backend>.json` for the report, so a small size
can be built and timed before a larger one is built.

"Model seconds" are the seconds the flow's thread spent in the model steps it reports: `embed-wait`
(waiting for the embedding worker), `entities` (spaCy NER and the batch's provisional resolution) and
`quotes` (quote extraction and the quote texts' embedding); non-model seconds = the flow's wall time
less those. The per-step seconds show the rest.
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent

SHARED = ROOT.parent / "shared"
NOISE = 0.45  # norm of the added noise relative to the unit vector: cosine to the original ~0.9
MARK = re.compile(r" \(c\d+\)")
SPECIAL = re.compile(r" \(c\d+\)|\w+")  # copy marks and words (some of them varied names)
VARIED_LABELS = ("PERSON", "ORG")
FIRST_DAY = date(2025, 12, 8)
MODEL_STEPS = ("embed-wait", "entities", "quotes")
RUN_KINDS = ("no-op", "+1,000", "change 10 + delete 10")  # run in the order no-op, change + delete, +1,000
SYLLABLES_C, SYLLABLES_V = "kvrnlstz", "aeiou"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def h(*parts: object) -> int:
    """A stable 63-bit hash of the parts (the same in every process, whatever PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big") >> 1


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the seed: real articles, their vectors and mentions -------------------------------------------

class Seed:
    """What the synthetic articles are made from, read from the seed warehouses."""

    def __init__(self, paths: list[Path]) -> None:
        import duckdb
        import numpy as np

        self.articles: list[dict[str, object]] = []  # seed, source_path, raw_text, names
        self.vectors: dict[str, np.ndarray] = {}
        self.mentions: dict[str, list[tuple[int, int, str, str, str]]] = {}
        for index, path in enumerate(paths):
            con = duckdb.connect(str(path), read_only=True)
            names: dict[str, set[str]] = {}
            for sha_, start, end, surface, label, word_before, article_id, _pid in con.execute(
                "select p.text_sha256, m.start_char, m.end_char, m.surface, m.label, m.word_before, m.article_id, "
                "m.paragraph_id from raw_mentions m join paragraphs p using (paragraph_id) "
                "qualify p.paragraph_id = min(p.paragraph_id) over (partition by p.text_sha256) "
                "order by p.text_sha256, m.start_char"
            ).fetchall():
                self.mentions.setdefault(sha_, []).append((start, end, surface, label, word_before))
                if label in VARIED_LABELS:
                    words = re.findall(r"\w+", surface)
                    if words and words[-1].isalpha() and len(words[-1]) >= 3 and words[-1][0].isupper():
                        names.setdefault(article_id, set()).add(words[-1])
            for table in ("embedding_cache", "paragraphs"):
                frame = con.execute(f"select text_sha256, embedding from {table}").pl()
                matrix = np.asarray(frame["embedding"].to_list(), dtype=np.float32) if frame.height else None
                for row, key in enumerate(frame["text_sha256"].to_list()):
                    self.vectors.setdefault(key, matrix[row])
            for article_id, source_path, raw_text in con.execute(
                "select a.article_id, a.source_path, s.raw_text from articles a join article_sources s using (article_id) "
                "order by a.source_path"
            ).fetchall():
                self.articles.append({"seed": index, "source_path": source_path, "raw_text": raw_text,
                                      "names": sorted(names.get(article_id, ()))})
            con.close()
        self.dimension = len(next(iter(self.vectors.values())))
        self.vocabulary = {w for article in self.articles for w in re.findall(r"\w+", str(article["raw_text"]))}

    def split(self, holdout: int) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """(sources of the copies, held-out articles): the held-out ones are the first seed's articles
        first in the order of a hash of their path."""
        first = sorted((a for a in self.articles if a["seed"] == 0), key=lambda a: h("holdout", a["source_path"]))
        held = first[:holdout]
        held_paths = {(a["seed"], a["source_path"]) for a in held}
        sources = [a for a in self.articles if (a["seed"], a["source_path"]) not in held_paths]
        return sources, held


# --- synthetic files -----------------------------------------------------------------------------

def suffix(variant: int) -> str:
    out = ""
    while variant:
        out += SYLLABLES_C[variant % len(SYLLABLES_C)] + SYLLABLES_V[(variant // len(SYLLABLES_C)) % len(SYLLABLES_V)]
        variant //= len(SYLLABLES_C) * len(SYLLABLES_V)
    return out


class Synthesis:
    """Synthetic article texts and the map from a varied name back to the seed's."""

    def __init__(self, seed: Seed, sources: list[dict[str, object]]) -> None:
        self.seed, self.sources = seed, sources
        self.original_word: dict[str, str] = {}
        self._originals: dict[str, tuple[str, Callable[[int], int], Callable[[int], int]]] = {}

    def path(self, i: int) -> str:
        copy, index = divmod(i, len(self.sources))
        return f"syn/c{copy:04d}/{index:05d}.txt"

    def text(self, i: int) -> str:
        copy, index = divmod(i, len(self.sources))
        source = self.sources[index]
        mapping: dict[str, str] = {}
        for word in source["names"]:  # type: ignore[union-attr]
            variant = h("name", word, copy) % (copy // 3 + 1)
            if not variant:
                continue
            varied = word + suffix(variant)
            if varied in self.seed.vocabulary or self.original_word.get(varied, word) != word:
                continue
            self.original_word[varied] = word
            mapping[word] = varied
        pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(mapping, key=len, reverse=True)) + r")\b") \
            if mapping else None
        day = FIRST_DAY + timedelta(days=h("date", copy, index) % 365)
        out: list[str] = []
        dated = False
        for line in str(source["raw_text"]).split("\n"):
            if not line.strip():
                out.append(line)
                continue
            if pattern is not None:
                line = pattern.sub(lambda m: mapping[m.group(0)], line)
            out.append(f"{line.rstrip()} (c{copy})")
            if not dated:
                out += ["", f"Published: {day.day} {MONTHS[day.month - 1]} {day.year}"]
                dated = True
        return "\n".join(out) + "\n"

    def original(self, text: str) -> tuple[str, Callable[[int], int], Callable[[int], int]]:
        """The seed text a synthetic one was made from, and two maps of its offsets to the synthetic
        text's: of a mention's start and of its end (an end at a line's end stays before its copy mark)."""
        cached = self._originals.get(text)
        if cached is not None:
            return cached
        parts: list[str] = []
        # (orig position from which the shift applies, shift): a varied word shifts what follows its end;
        # a copy mark what follows its (orig) position, but not an end at that position.
        breaks: list[float] = [-1.0]
        shifts: list[int] = [0]
        last, shift, o = 0, 0, 0
        for match in SPECIAL.finditer(text):
            token = match.group(0)
            if token[0] == " ":
                before = ""
            else:
                before = self.original_word.get(token)
                if before is None:
                    continue
            parts.append(text[last:match.start()])
            o += match.start() - last
            parts.append(before)
            o += len(before)
            last = match.end()
            shift += len(token) - len(before)
            breaks.append(o + (0.5 if not before else 0.0))
            shifts.append(shift)
        parts.append(text[last:])
        original = "".join(parts)

        def start(p: int) -> int:
            return p + shifts[bisect.bisect_right(breaks, p) - 1]

        result = (original, start, start)
        if len(self._originals) > 50_000:
            self._originals.clear()
        self._originals[text] = result
        return result


# --- the build: the product's flow with the models replaced --------------------------------------

class Stand_ins:
    """The models' stand-ins, counting the texts they could not trace back to the seed."""

    def __init__(self, synthesis: Synthesis) -> None:
        self.synthesis = synthesis
        self.texts = self.missed_texts = self.paragraphs = self.missed_paragraphs = self.misplaced = 0

    def encode(self, texts: list[str], model: str, device: str = "cpu", batch_size: int = 256):  # noqa: ANN201
        import numpy as np

        dimension = self.synthesis.seed.dimension
        out = np.empty((len(texts), dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            rng = np.random.default_rng(h("vector", text))
            base = self.synthesis.seed.vectors.get(sha(self.synthesis.original(text)[0]))
            self.texts += 1
            if base is None:  # not traced back (cleaning cut the text differently): a random direction
                self.missed_texts += 1
                base = rng.standard_normal(dimension).astype(np.float32)
                base /= np.linalg.norm(base)
            noise = rng.standard_normal(dimension).astype(np.float32)
            noise *= NOISE / np.linalg.norm(noise)
            vector = base + noise
            out[row] = vector / np.linalg.norm(vector)
        return out

    def mentions(self, paragraphs, model: str, batch_size: int = 64, chunk_chars: int = 0):  # noqa: ANN001, ANN201
        import polars as pl
        from tasks.entities import LOOK_BEHIND_CHARS, RAW_MENTION_SCHEMA

        rows: list[dict[str, object]] = []
        for article_id, paragraph_id, text in paragraphs.select("article_id", "paragraph_id", "text").iter_rows():
            original, starts, ends = self.synthesis.original(text)
            found = self.synthesis.seed.mentions.get(sha(original))
            self.paragraphs += 1
            if found is None:
                if sha(original) not in self.synthesis.seed.vectors:
                    self.missed_paragraphs += 1
                continue
            for start, end, _surface, label, _word in found:
                new_start, new_end = starts(start), ends(end)
                if text[new_start:new_end] != _surface and self.synthesis.original(text[new_start:new_end])[0] != _surface:
                    self.misplaced += 1
                    continue
                before = text[max(0, new_start - LOOK_BEHIND_CHARS): new_start].split()
                rows.append({"article_id": article_id, "paragraph_id": paragraph_id, "start_char": new_start,
                             "end_char": new_end, "surface": text[new_start:new_end], "label": label,
                             "word_before": before[-1].casefold() if before else ""})
        return pl.DataFrame(rows, schema=RAW_MENTION_SCHEMA)


def check_code(code: str) -> str:
    """Where a child process (cwd and environment of a run) imports `flows` from; it must be `code`."""
    found = subprocess.run([sys.executable, "-c", "import flows.cli; print(flows.cli.__file__)"], cwd=code,
                           env=clean_env(code), capture_output=True, text=True, check=True).stdout.strip()
    if not Path(found).resolve().is_relative_to(Path(code).resolve()):
        raise SystemExit(f"a child imports flows from {found}, not from --code {code}")
    return found


def build_child(args: argparse.Namespace) -> None:
    """In a child process: run the product's flow over the raw folder with the models replaced."""
    sys.path.insert(0, args.code)
    seed = Seed([Path(p) for p in args.seed_warehouse])
    sources, _ = seed.split(args.holdout)
    synthesis = Synthesis(seed, sources)
    for i in range(args.size):  # the name map, as the files were written
        synthesis.text(i)
    stand_ins = Stand_ins(synthesis)

    import flows.batching as batching
    import runtime.embedding_worker as embedding_worker
    import tasks.entities as entities
    from flows.cli import connect_prefect, prefect_environment

    print(f"build child: flows from {batching.__file__}", flush=True)
    batching._encoder = lambda settings: stand_ins.encode  # type: ignore[assignment]
    embedding_worker.embedding_worker = lambda *a, **k: None  # type: ignore[assignment]
    entities.extract_mentions_in_chunks = stand_ins.mentions  # type: ignore[assignment]
    prefect_environment()
    connect_prefect(True)
    from flows.ingest import ingest_flow

    state = ingest_flow(raw_dir=args.raw, warehouse_path=args.warehouse, return_state=True)
    if not state.is_completed():
        raise SystemExit(f"build run {state.name}: {state.message}")
    summary = state.result()
    if not str(args.warehouse).startswith("ducklake:"):  # the HNSW index file a default run keeps
        import duckdb
        from storage.connection import transaction
        from storage.paragraph_index import settle_journal
        from storage.state import paragraph_count
        from tasks import similarity

        started = time.perf_counter()
        con = duckdb.connect(args.warehouse)
        with transaction(con):
            index = settle_journal(con, similarity.paragraph_index_path(Path(args.warehouse)), seed.dimension)
        stored = paragraph_count(con)
        con.close()
        added, removed = (index.size if index else 0), 0
        summary["hnsw_index_sync"] = {"paragraphs": stored, "added": added, "removed": removed,
                                      "seconds": round(time.perf_counter() - started, 1)}
        print(f"HNSW index synced: {summary['hnsw_index_sync']}", flush=True)
    summary["stand_ins"] = {"texts": stand_ins.texts, "texts_not_traced": stand_ins.missed_texts,
                            "paragraphs": stand_ins.paragraphs, "paragraphs_not_traced": stand_ins.missed_paragraphs,
                            "mentions_misplaced": stand_ins.misplaced}
    Path(args.summary).write_text(json.dumps(summary, default=str, indent=1))


def clean_env(code: str) -> dict[str, str]:
    """The environment of a run: NEWSDAG_* settings at their defaults, the code under test first on the path,
    Python's fault handler on (a SIGABRT from `wait_watched` then writes every thread's stack to the log)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("NEWSDAG_")}
    return {**env, "PYTHONPATH": code, "PYTHONFAULTHANDLER": "1"}


def wait_watched(process, max_rss_gb: float) -> tuple[int, bool]:  # noqa: ANN001
    """Wait for a psutil.Popen process, sampling the RSS of its process tree (summed) every 0.1 s. Over
    `max_rss_gb` the tree gets SIGABRT (the fault handler writes the Python stacks to the log) and then
    SIGKILL, rather than the machine's OOM killer choosing a victim. Returns (peak bytes, killed)."""
    import signal

    import psutil

    peak, killed = 0, False
    while process.poll() is None:
        try:
            tree = [process, *process.children(recursive=True)]
            total = 0
            for p in tree:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, total)
            if total > max_rss_gb * 2**30 and not killed:
                killed = True
                log(f"process tree at {total / 2**30:.1f} GB RSS (over --max-rss-gb {max_rss_gb}): SIGABRT, then SIGKILL")
                for p in tree:
                    try:
                        p.send_signal(signal.SIGABRT)
                    except psutil.Error:
                        pass
                time.sleep(3)
                for p in tree:
                    try:
                        p.kill()
                    except psutil.Error:
                        pass
        except psutil.Error:
            pass
        time.sleep(0.1)
    return peak, killed


def warehouse_setting(args: argparse.Namespace, warehouse: Path) -> str:
    """The warehouse as a run names it: the DuckDB file, or a DuckLake whose catalog is a DuckDB file
    beside it (`<catalog>.files/` holding its Parquet)."""
    return str(warehouse) if args.backend == "file" else "ducklake:" + str(warehouse.with_suffix(".ducklake"))


def warehouse_files(warehouse: Path) -> list[Path]:
    """The warehouse's files: the DuckDB file and what lies beside it (WAL, HNSW index), or the lake's
    catalog and its data folder."""
    paths = list(warehouse.parent.glob(warehouse.name + "*"))
    lake = warehouse.with_suffix(".ducklake")
    paths += list(lake.parent.glob(lake.name + "*"))
    return [p for p in paths if not p.name.endswith((".lock", ".run.json", ".tmp"))]


def disk_mb(warehouse: Path) -> float:
    total = 0
    for p in warehouse_files(warehouse):
        total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
    return total / 2**20


def copy_warehouse(source: Path, target: Path) -> None:
    for p in warehouse_files(target):
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in warehouse_files(source):
        name = target.stem + p.name[len(source.stem):]
        if p.is_dir():
            shutil.copytree(p, target.parent / name)
        else:
            shutil.copy2(p, target.parent / name)
    catalog = target.with_suffix(".ducklake")
    if catalog.exists():  # the copy's catalog points at the copy's data folder (its paths are relative to it)
        import duckdb

        con = duckdb.connect(str(catalog))
        con.execute("update ducklake_metadata set value = ? where key = 'data_path'",
                    [str(catalog.parent / (catalog.name + ".files")) + "/"])
        con.close()


def copy_tree(source: Path, target: Path) -> None:
    """A copy of a raw folder keeping every file's mtime (cp -a)."""
    shutil.rmtree(target, ignore_errors=True)
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def write_files(synthesis: Synthesis, raw: Path, size: int) -> int:
    """Write the synthetic files 0..size-1 missing from `raw`; their mtime an hour back, as files that
    have sat in the folder since an earlier run. Returns the number written."""
    written = 0
    old = time.time_ns() - 3600 * 10**9
    for i in range(size):
        text = synthesis.text(i)
        path = raw / synthesis.path(i)
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(old, old))
        written += 1
    return written


def build(args: argparse.Namespace, synthesis: Synthesis, size: int, previous: int | None) -> dict[str, object]:
    """The built warehouse and raw folder of `size` articles (pristine, under work/base_<backend>_<size>),
    extending those of `previous`, in flow runs of at most `--build-step` new files each (a build that
    was stopped goes on from its last completed step). Returns the build's record."""
    base = Path(args.work) / f"base_{args.backend}_{size}"
    raw, warehouse = base / "raw", base / "warehouse.duckdb"
    done, progress = base / "built.json", base / "progress.json"
    if done.exists() and not args.rebuild:
        log(f"{size}: built warehouse found ({done})")
        return json.loads(done.read_text())
    if progress.exists() and not args.rebuild:
        record = json.loads(progress.read_text())
        log(f"{size}: going on from {record['built']:,} articles built")
    else:
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        record = {"size": size, "extended_from": previous, "built": 0, "files_s": 0.0, "flow_s": 0.0, "steps": []}
        if previous is not None:
            started = time.perf_counter()
            copy_tree(Path(args.work) / f"base_{args.backend}_{previous}" / "raw", raw)
            copy_warehouse(Path(args.work) / f"base_{args.backend}_{previous}" / "warehouse.duckdb", warehouse)
            record["built"] = previous
            record["copy_s"] = round(time.perf_counter() - started, 1)
        progress.write_text(json.dumps(record, indent=1))
    summary: dict[str, object] = {}
    while record["built"] < size:
        target = min(size, record["built"] + args.build_step)
        summary_path = base / "build_summary.json"
        if summary_path.exists() and summary_path.stat().st_mtime > progress.stat().st_mtime:
            # The step's flow run completed after this process stopped (a build interrupted and resumed).
            summary = json.loads(summary_path.read_text())
            if summary.get("files_seen") == target:
                record["built"] = target
                record["flow_s"] = round(record["flow_s"] + float(summary.get("wall_seconds", 0.0)), 1)
                record["steps"].append({"to": target, "flow_s": summary.get("wall_seconds"), "resumed": True,
                                        "stand_ins": summary.get("stand_ins"),
                                        "seconds_per_step": summary.get("seconds_per_step")})
                progress.write_text(json.dumps(record, indent=1))
                continue
        started = time.perf_counter()
        written = write_files(synthesis, raw, target)
        files_s = time.perf_counter() - started
        log(f"{size}: {written} synthetic files written in {files_s:.0f} s; building the warehouse to {target:,}")
        time.sleep(2.5)  # discovery trusts an mtime only when it is over 2 s older than itself
        started = time.perf_counter()
        env = {**clean_env(args.code), "NEWSDAG_DUCKDB_MEMORY_LIMIT": args.build_memory,
               "NEWSDAG_BATCH_SIZE": str(args.build_batch), "NEWSDAG_SIMILARITY_EXACT_MAX": str(args.build_exact_max)}
        command = [sys.executable, __file__, "--_build", "--size", str(target), "--raw", str(raw),
                   "--warehouse", warehouse_setting(args, warehouse), "--code", args.code, "--summary", str(summary_path),
                   "--holdout", str(args.holdout), "--seed-warehouse", *args.seed_warehouse]
        import psutil

        with open(base / f"build_{target}.log", "w") as out:
            process = psutil.Popen(command, cwd=args.code, env=env, stdout=out, stderr=subprocess.STDOUT)
            build_peak, killed = wait_watched(process, args.max_rss_gb)
        if process.returncode:
            raise SystemExit(f"build of {size} failed (rc {process.returncode}"
                             + (f", killed over {args.max_rss_gb} GB RSS" if killed else "")
                             + f"): see {base / f'build_{target}.log'}")
        summary = json.loads(summary_path.read_text())
        flow_s = time.perf_counter() - started
        record["built"] = target
        record["files_s"] = round(record["files_s"] + files_s, 1)
        record["flow_s"] = round(record["flow_s"] + flow_s, 1)
        record["steps"].append({"to": target, "flow_s": round(flow_s, 1), "peak_rss_mb": round(build_peak / 2**20),
                                "stand_ins": summary.get("stand_ins"),
                                "seconds_per_step": summary.get("seconds_per_step")})
        progress.write_text(json.dumps(record, indent=1))
        log(f"{size}: built to {target:,} in {flow_s:.0f} s")
    record.update({"total_s": round(record["files_s"] + record["flow_s"] + record.get("copy_s", 0.0), 1),
                   "articles": summary.get("articles"), "paragraphs": summary.get("paragraphs"),
                   "entities": summary.get("entities"), "links": summary.get("paragraph_similarity"),
                   "disk_mb": round(disk_mb(warehouse), 1)})
    done.write_text(json.dumps(record, indent=1))
    log(f"{size}: built in {record['total_s']} s: "
        + json.dumps({k: record[k] for k in ("articles", "paragraphs", "entities", "links", "disk_mb")}))
    return record


# --- the timed runs ------------------------------------------------------------------------------

def timed_run(args: argparse.Namespace, warehouse: Path, raw: Path, log_path: Path) -> dict[str, object]:
    """One `newsdag run` in its own process: wall time, peak RSS of its process tree, the run's summary."""
    import psutil
    from storage.backend import backend_for
    from storage.readonly import read_query

    setting = warehouse_setting(args, warehouse)
    command = [str(Path(sys.executable).parent / "newsdag"), "run", "--raw-dir", str(raw),
               "--warehouse", setting] + (["--ephemeral"] if args.prefect == "ephemeral" else [])
    started = time.perf_counter()
    with open(log_path, "w") as out:
        env = {**clean_env(args.code), **dict(item.split("=", 1) for item in args.run_env)}
        process = psutil.Popen(command, cwd=args.code, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak, killed = wait_watched(process, args.max_rss_gb)
    wall = time.perf_counter() - started
    if killed:
        return {"rc": process.returncode, "status": f"killed over {args.max_rss_gb} GB RSS", "wall_s": round(wall, 2),
                "flow_s": round(wall, 2), "model_s": 0.0, "non_model_s": round(wall, 2),
                "peak_rss_mb": round(peak / 2**20), "disk_mb": round(disk_mb(warehouse), 1), "steps": {},
                "log": str(log_path)}
    last = read_query(backend_for(setting), "select status, summary from runs order by started_at desc limit 1")
    status, summary = last.row(0)
    summary = json.loads(summary) if summary else {}
    steps = summary.get("seconds_per_step", {})
    flow_wall = float(summary.get("wall_seconds") or wall)
    model = sum(float(steps.get(name, 0.0)) for name in MODEL_STEPS)
    return {"rc": process.returncode, "status": status, "wall_s": round(wall, 2), "flow_s": round(flow_wall, 2),
            "model_s": round(model, 2), "non_model_s": round(flow_wall - model, 2),
            "peak_rss_mb": round(peak / 2**20), "disk_mb": round(disk_mb(warehouse), 1), "steps": steps,
            "new": summary.get("new"), "changed": summary.get("changed"), "deleted": summary.get("deleted"),
            "unchanged": summary.get("unchanged"), "derived": summary.get("derived"), "log": str(log_path)}


def series(args: argparse.Namespace) -> str:
    """The name of a series of timed runs: the backend, and the settings given to the runs (--run-env)."""
    return "_".join([args.backend, *(item.replace("NEWSDAG_", "").replace("=", "-").lower() for item in args.run_env)])


def save(args: argparse.Namespace, size: int, results: dict[str, dict]) -> None:
    """The runs of a size so far, and their table (written after each run)."""
    out = Path(args.out)
    (out / f"runs_{series(args)}_{size}.json").write_text(json.dumps(results, indent=1, default=str))
    (out / f"table_{series(args)}_{size}.md").write_text(table(series(args), size, results) + "\n")


def timed_runs(args: argparse.Namespace, synthesis: Synthesis, held: list[dict[str, object]], size: int) -> dict[str, dict]:
    work = Path(args.work)
    base = work / f"base_{args.backend}_{size}"
    run_dir = work / f"runs_{series(args)}_{size}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    raw, warehouse = run_dir / "raw", run_dir / "warehouse.duckdb"
    copy_tree(base / "raw", raw)
    copy_warehouse(base / "warehouse.duckdb", warehouse)
    results: dict[str, dict] = {}

    log(f"{size}: warm-up no-op run (untimed: takes any one-off migration of a warehouse built by older code)")
    warmup = timed_run(args, warehouse, raw, run_dir / "warmup.log")
    (Path(args.out) / f"warmup_{series(args)}_{size}.json").write_text(json.dumps(warmup, indent=1, default=str))
    log(f"{size}: warm-up: rc {warmup['rc']}, {warmup['status']}, flow {warmup['flow_s']} s, process {warmup['wall_s']} s")
    if warmup["rc"] != 0:
        raise SystemExit(f"warm-up run of {size} failed: see {run_dir / 'warmup.log'}")

    log(f"{size}: (a) no-op run")
    results[RUN_KINDS[0]] = timed_run(args, warehouse, raw, run_dir / "noop.log")
    save(args, size, results)

    log(f"{size}: (b) 10 files changed, 10 deleted")
    chosen = sorted(range(size), key=lambda i: h("touch", i))[:20]
    for i in chosen[:10]:
        path = raw / synthesis.path(i)
        lines = path.read_text(encoding="utf-8").split("\n")
        body = [n for n, line in enumerate(lines) if line.strip()][-1]
        lines[body] += " This paragraph was revised after publication, with figures the agency corrected on Monday."
        path.write_text("\n".join(lines), encoding="utf-8")
    for i in chosen[10:]:
        (raw / synthesis.path(i)).unlink()
    time.sleep(2.5)
    results[RUN_KINDS[2]] = timed_run(args, warehouse, raw, run_dir / "change.log")
    save(args, size, results)
    log(f"{size}: (c) +{len(held)} held-out real articles")
    for article in held:
        path = raw / "heldout" / f"seed{article['seed']}" / str(article["source_path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(article["raw_text"]), encoding="utf-8")
    time.sleep(2.5)
    results[RUN_KINDS[1]] = timed_run(args, warehouse, raw, run_dir / "add.log")
    save(args, size, results)

    return results


# --- report --------------------------------------------------------------------------------------

def top_steps(results: dict[str, dict], n: int = 5) -> list[str]:
    """The steps with the most seconds over the runs (model steps aside)."""
    totals: dict[str, float] = {}
    for result in results.values():
        for name, seconds in result["steps"].items():
            if name not in MODEL_STEPS and name != "embed":
                totals[name] = totals.get(name, 0.0) + float(seconds)
    return [name for name, _ in sorted(totals.items(), key=lambda kv: -kv[1])[:n]]


def table(backend: str, size: int, results: dict[str, dict]) -> str:
    steps = top_steps(results)
    header = ["run", "wall s (process)", "flow s", "model s", "non-model s", *[f"{s} s" for s in steps],
              "peak RSS MB", "disk MB"]
    lines = [f"### {backend}, {size:,} articles", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for kind, r in results.items():
        cells = [kind if r["rc"] == 0 else f"{kind} (FAILED rc {r['rc']}, {r['status']})", f"{r['wall_s']:.1f}",
                 f"{r['flow_s']:.1f}", f"{r['model_s']:.1f}", f"{r['non_model_s']:.1f}",
                 *[f"{float(r['steps'].get(s, 0.0)):.2f}" for s in steps], f"{r['peak_rss_mb']:,}", f"{r['disk_mb']:,.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def extrapolate(measured: dict[int, dict[str, dict]], key: str, kind: str, target: int = 1_000_000) -> float | None:
    """`key` of run `kind` at `target` articles, from a power law through the two largest sizes measured."""
    sizes = sorted(s for s in measured if measured[s].get(kind, {}).get("rc") == 0)
    if len(sizes) < 2:
        return None
    (s1, s2) = sizes[-2:]
    y1, y2 = float(measured[s1][kind][key]), float(measured[s2][kind][key])
    if y1 <= 0 or y2 <= 0:
        return None
    exponent = math.log(y2 / y1) / math.log(s2 / s1)
    return y2 * (target / s2) ** exponent


def targets(measured: dict[int, dict[str, dict]], lake: dict[int, dict[str, dict]] | None,
            run_env: list[str] | None = None) -> list[str]:
    out: list[str] = [f"(timed runs with {' '.join(run_env)}, not the defaults)"] if run_env else []

    def line(name: str, value: str, met: bool | None) -> None:
        out.append(f"- {name}: {value} — " + ("**met**" if met else "not measured" if met is None else "**NOT met**"))

    small, large = 10_000, 100_000
    noop = measured.get(large, {}).get(RUN_KINDS[0])
    line("no-op run at 100k ≤ 5 s (flow's wall time; the process's incl. Prefect start in brackets)",
         f"{noop['flow_s']:.1f} s ({noop['wall_s']:.1f} s)" if noop else "—",
         (noop["flow_s"] <= 5 and noop["rc"] == 0) if noop else None)
    add_small, add_large = (measured.get(s, {}).get(RUN_KINDS[1]) for s in (small, large))
    if add_small and add_large:
        ratio = add_large["non_model_s"] / add_small["non_model_s"]
        line("+1,000 run's non-model s at 100k ≤ 1.5× at 10k",
             f"{add_large['non_model_s']:.1f} / {add_small['non_model_s']:.1f} s = {ratio:.2f}×", ratio <= 1.5)
    else:
        line("+1,000 run's non-model s at 100k ≤ 1.5× at 10k", "—", None)
    million = extrapolate(measured, "non_model_s", RUN_KINDS[1])
    if million is not None and add_small:
        ratio = million / add_small["non_model_s"]
        line("+1,000 run's non-model s at 1M ≤ 2× at 10k (EXTRAPOLATED, power law through the two largest sizes)",
             f"{million:.1f} s = {ratio:.2f}×", ratio <= 2)
    else:
        line("+1,000 run's non-model s at 1M ≤ 2× at 10k", "—", None)
    peaks = [r["peak_rss_mb"] for r in measured.get(large, {}).values()]
    line("peak memory at 100k ≤ 4 GB", f"{max(peaks):,} MB" if peaks else "—", (max(peaks) <= 4096) if peaks else None)
    failed = [f"{s} {k}" for s, rs in measured.items() for k, r in rs.items() if r["rc"] != 0]
    line("every run completes with default settings" if not run_env else f"every run completes with {' '.join(run_env)}", ", ".join(failed) + " failed" if failed else "all completed",
         not failed)
    if lake and large in lake and large in measured:
        ratio = max(lake[large][k]["non_model_s"] / max(measured[large][k]["non_model_s"], 0.01) for k in lake[large])
        line("DuckLake at 100k within 2× the single file (non-model s, worst run)", f"{ratio:.2f}×", ratio <= 2)
    else:
        line("DuckLake at 100k within 2× the single file", "—", None)
    return out


# --- seeds ---------------------------------------------------------------------------------------

def make_seeds(args: argparse.Namespace) -> None:
    """Build the seed warehouses that are missing, by real runs of the flow over the corpora."""
    corpora = [[SHARED / "corpora" / "bbc"], [SHARED / "corpora" / "wikiref150" / "articles", ROOT / "tests" / "data" / "stories"]]
    for path, sources in zip(args.seed_warehouse, corpora):
        if Path(path).exists():
            continue
        raw = Path(args.work) / ("seedraw_" + Path(path).stem)
        shutil.rmtree(raw, ignore_errors=True)
        raw.mkdir(parents=True)
        for source in sources:
            for file in sorted(source.rglob("*.txt")):
                target = raw / source.name / file.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(file, target)
        log(f"seed {path}: real run over {raw} (the models: minutes)")
        subprocess.run([str(Path(sys.executable).parent / "newsdag"), "run", "--raw-dir", str(raw),
                        "--warehouse", str(path), "--ephemeral"], cwd=args.code, env=clean_env(args.code),
                       stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "scale"))
    parser.add_argument("--backend", choices=["file", "lake"], default="file")
    parser.add_argument("--seed-warehouse", nargs="+", default=["/tmp/newsdag-scale/seed_bbc.duckdb",
                                                                "/tmp/newsdag-scale/seed_wiki.duckdb"],
                        help="seed warehouses (built when missing: BBC first, then wikiref150 + the samples)")
    parser.add_argument("--work", default="/tmp/newsdag-scale", help="where the built warehouses and raw folders go")
    parser.add_argument("--holdout", type=int, default=1000)
    parser.add_argument("--prefect", choices=["ephemeral", "server"], default="ephemeral",
                        help="the timed runs' Prefect: --ephemeral, or the local background server")
    parser.add_argument("--build-memory", default="4GB")
    parser.add_argument("--build-batch", type=int, default=1000)
    parser.add_argument("--build-exact-max", type=int, default=10**12,
                        help="NEWSDAG_SIMILARITY_EXACT_MAX of the build (exact search; see the docstring)")
    parser.add_argument("--build-step", type=int, default=20_000, help="new files per build run")
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose code builds and runs (default: this one)")
    parser.add_argument("--max-rss-gb", type=float, default=12.0,
                        help="a child's process tree over this RSS is stopped (its Python stacks dumped to its log)")
    parser.add_argument("--run-env", nargs="+", default=[], metavar="NEWSDAG_X=V",
                        help="settings of the timed runs (default: none, every NEWSDAG_* at its default); "
                             "the series' files are named after them")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--timed-sizes", type=int, nargs="+",
                        help="the sizes whose runs are timed now (default: all); the others' are read back")
    parser.add_argument("--rebuild", action="store_true", help="rebuild warehouses already built")
    # the build's child process
    parser.add_argument("--_build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", help=argparse.SUPPRESS)
    parser.add_argument("--summary", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build:
        build_child(args)
        return
    sys.path.insert(0, args.code)
    log(f"code under test: a child imports {check_code(args.code)}")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    make_seeds(args)
    seed = Seed([Path(p) for p in args.seed_warehouse])
    sources, held = seed.split(args.holdout)
    synthesis = Synthesis(seed, sources)
    log(f"seed: {len(seed.articles)} articles, {len(seed.vectors)} vectors; {len(sources)} sources of copies, "
        f"{len(held)} held out")

    sizes = sorted(args.sizes)
    builds: dict[int, dict] = {}
    previous = None
    for size in sizes:
        builds[size] = build(args, synthesis, size, previous)
        previous = size
    (out / "builds.json").write_text(json.dumps(builds, indent=1))
    if args.build_only:
        return

    measured: dict[int, dict[str, dict]] = {}
    results_path = out / f"results_{series(args)}.json"
    timed = sorted(args.timed_sizes or sizes)
    if results_path.exists():  # the runs of sizes timed by an earlier invocation
        earlier = json.loads(results_path.read_text())
        for key, runs in earlier.get("runs", {}).items():
            if int(key) in sizes and int(key) not in timed:
                measured[int(key)] = runs
        for key, record in earlier.get("builds", {}).items():
            builds.setdefault(int(key), record)
    for size in timed:
        measured[size] = timed_runs(args, synthesis, held, size)
        measured = dict(sorted(measured.items()))
        results_path.write_text(json.dumps({"builds": builds, "runs": measured}, indent=1, default=str))
    sizes = sorted(measured)
    report = [f"## Scale: {args.backend}, sizes {', '.join(f'{s:,}' for s in sizes)} "
              f"(timed runs with Prefect {args.prefect})", ""]
    for size in sizes:
        b = builds[size]
        report += [table(series(args), size, measured[size]), "",
                   f"built in {b['total_s']:.0f} s (files {b['files_s']:.0f} s, flow runs {b['flow_s']:.0f} s"
                   + (f", extending the {b['extended_from']:,} build" if b.get("extended_from") else "")
                   + f"): {b['articles']:,} articles, {b['paragraphs']:,} paragraphs, {b['entities']:,} entities, "
                   f"{b['links']:,} links; texts not traced to the seed: {[step['stand_ins'] for step in b['steps']]}", ""]
    report.append("### 1M extrapolated (power law through the two largest sizes measured; not measured)")
    report.append("")
    for kind in RUN_KINDS:
        values = {key: extrapolate(measured, key, kind) for key in ("flow_s", "non_model_s", "peak_rss_mb", "disk_mb")}
        report.append(f"- {kind}: " + ", ".join(f"{k} ≈ {v:,.1f}" if v is not None else f"{k} —" for k, v in values.items()))
    report += ["", "### Targets (issue 31)", "", *targets(measured, None, args.run_env)]
    text = "\n".join(report)
    (out / f"report_{series(args)}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
