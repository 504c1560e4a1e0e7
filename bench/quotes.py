"""Quotes and their speakers against the hand-annotated dev set (bench/data/quotes/gold.json).

Runs the real flow (`python -m flows run`, real spaCy and embeddings, entities settled and quotes
found again at the end of the run) on the 40 annotated files in a fresh warehouse, then scores the
stored quotes with the metric of the issue (36):
- a gold statement is *found* at threshold t when one system quote covers more than t of its span
  (characters of the gold span inside the system span / characters of the gold span);
- a system quote is *right* at t when it covers more than t of a gold span, or more than t of it lies
  inside one (a statement the system splits in two parts, each part right);
- P, R, F1 at t = 0.3 and 0.8; statements only (`kind` fragment is not a statement);
- speaker accuracy: of the statements found at 0.3, the share whose best-covering system quote names a
  speaker that the annotation accepts (the canonical entity's name, else the speaker words; a word of a
  name in common, e.g. "Parry" for "Rick Parry", "an executive spokesman" for "executive spokesman").

System spans are placed in the file's text through their paragraph (its text found in the file).

Usage: python bench/quotes.py [--shared ../shared] [--repo DIR] [--out DIR] [--show-errors]
       python bench/quotes.py --parser-cost     # ms per paragraph of NER and of the parse
`--repo`: the checkout whose pipeline runs (default this one), e.g. a worktree of an older commit to
measure the "before".
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "bench" / "data" / "quotes" / "gold.json"
THRESHOLDS = (0.3, 0.8)
# Words that do not identify a speaker: articles, possessives, honorifics.
NOT_NAME = {"the", "a", "an", "of", "his", "her", "its", "their", "mr", "mrs", "ms", "dr", "and", "for", "s", "from",
            "on", "behalf", "in", "to", "at", "us", "one"}


def run_pipeline(repo: Path, shared: Path, out: Path, articles: list[dict]) -> Path:
    """Copy the annotated files into a raw folder (path flattened: bbc/sport/023.txt -> bbc__sport__023.txt)
    and run the flow of `repo` on it into a fresh warehouse."""
    raw, warehouse = out / "raw", out / "quotes.duckdb"
    shutil.rmtree(out, ignore_errors=True)
    raw.mkdir(parents=True)
    for article in articles:
        shutil.copy(shared / "corpora" / article["path"], raw / flat_name(article["path"]))
    env = {**os.environ, "PYTHONPATH": str(repo), "PREFECT_LOGGING_LEVEL": "WARNING"}
    # --ephemeral: a temporary Prefect server of the run's own, stopped when it ends (a server started per
    # benchmark run on a port of its own was left running after each)
    result = subprocess.run([sys.executable, "-m", "flows", "run", "--ephemeral", "--raw-dir", str(raw), "--warehouse", str(warehouse)],
                            cwd=repo, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"run failed:\n{result.stderr[-3000:]}")
    return warehouse


def flat_name(path: str) -> str:
    return path.replace("/", "__")


def system_quotes(warehouse: Path, shared: Path, articles: list[dict]) -> dict[str, list[dict]]:
    """Per annotated path, the stored statements (fragments left out) with their spans in the file's text."""
    con = duckdb.connect(str(warehouse), read_only=True)
    columns = {row[0] for row in con.execute("select column_name from duckdb_columns() where table_name = 'quotes'").fetchall()}
    kind = "q.kind" if "kind" in columns else "'direct'"
    rows = con.execute(
        f"select a.source_path, p.text, q.start_char, q.end_char, {kind}, e.canonical_name, q.speaker_surface "
        "from quotes q join paragraphs p using (paragraph_id) join articles a on a.article_id = q.article_id "
        "left join entities e on e.entity_id = q.speaker_entity_id order by q.quote_id").fetchall()
    con.close()
    by_name = {flat_name(a["path"]): a["path"] for a in articles}
    found: dict[str, list[dict]] = {a["path"]: [] for a in articles}
    paragraph_at: dict[tuple[str, str], int] = {}
    for source_path, paragraph, start, end, quote_kind, canonical, surface in rows:
        path = by_name[Path(source_path).name]
        if quote_kind == "fragment":
            continue
        if (path, paragraph) not in paragraph_at:
            paragraph_at[(path, paragraph)] = locate_paragraph((shared / "corpora" / path).read_text(), paragraph)
        offset = paragraph_at[(path, paragraph)]
        if offset < 0:
            print(f"  (paragraph not found in {path}: {paragraph[:60]!r})", file=sys.stderr)
            continue
        found[path].append({"start": offset + start, "end": offset + end, "kind": quote_kind,
                            "speaker": canonical or surface, "text": paragraph[start:end]})
    return found


def locate_paragraph(text: str, paragraph: str) -> int:
    """Where the stored paragraph starts in the file (cleaning keeps the words; spacing may differ)."""
    at = text.find(paragraph)
    if at >= 0:
        return at
    head = paragraph[:40]
    at = text.find(head)
    return at if at >= 0 and text[at: at + len(paragraph)].split() == paragraph.split() else -1


def covered(gold: dict, system: dict) -> tuple[float, float]:
    """(share of the gold span inside the system span, share of the system span inside the gold span)."""
    inter = max(0, min(gold["end_char"], system["end"]) - max(gold["start_char"], system["start"]))
    return inter / max(1, gold["end_char"] - gold["start_char"]), inter / max(1, system["end"] - system["start"])


def name_words(name: str | None) -> set[str]:
    words = re.findall(r"[a-z0-9]+", (name or "").casefold().replace("’", "'").replace("'s", ""))
    return {w for w in words if w not in NOT_NAME}


def speaker_right(system: str | None, gold: list[str]) -> bool:
    """A word of a name in common with one accepted speaker ("TimeWarner" and "Time Warner" too, "OSI" and
    "Open Society Institute")."""
    words = name_words(system)
    squashed = "".join(sorted(words))

    def same(name: str) -> bool:
        theirs = name_words(name)
        initials = "".join(w[0] for w in re.findall(r"[a-z0-9]+", name.casefold()))
        return bool(words & theirs) or (bool(words) and "".join(sorted(theirs)) == squashed) or squashed == initials

    return any(same(name) for name in gold)


def score(articles: list[dict], found: dict[str, list[dict]], show_errors: bool) -> dict[str, float]:
    results: dict[str, float] = {}
    n_gold = sum(len(a["quotes"]) for a in articles)
    n_system = sum(len(v) for v in found.values())
    for t in THRESHOLDS:
        hit = sum(any(covered(g, s)[0] > t for s in found[a["path"]]) for a in articles for g in a["quotes"])
        right = sum(any(max(covered(g, s)) > t for g in a["quotes"]) for a in articles for s in found[a["path"]])
        p, r = right / max(1, n_system), hit / max(1, n_gold)
        results[f"P@{t}"], results[f"R@{t}"], results[f"F1@{t}"] = p, r, 2 * p * r / max(1e-9, p + r)
    speakers = wrong = 0
    for a in articles:
        for g in a["quotes"]:
            best = max(found[a["path"]], key=lambda s: covered(g, s)[0], default=None)
            if best is None or covered(g, best)[0] <= 0.3:
                if show_errors:
                    print(f"MISS  {a['path']}: [{g['kind']}] {g['text'][:90]!r}")
                continue
            speakers += 1
            if speaker_right(best["speaker"], g["speakers"]):
                continue
            wrong += 1
            if show_errors:
                print(f"SPKR  {a['path']}: {best['speaker']!r} for {g['speakers']}: {g['text'][:60]!r}")
        if show_errors:
            for s in found[a["path"]]:
                if not any(max(covered(g, s)) > 0.3 for g in a["quotes"]):
                    print(f"FP    {a['path']}: [{s['kind']}] {s['speaker']!r}: {s['text'][:90]!r}")
    results["speaker accuracy"] = (speakers - wrong) / max(1, speakers)
    results["gold"], results["system"] = n_gold, n_system
    by_kind: dict[str, list[int]] = {}
    for a in articles:
        for g in a["quotes"]:
            counts = by_kind.setdefault(g["kind"], [0, 0])
            counts[0] += 1
            counts[1] += any(covered(g, s)[0] > 0.3 for s in found[a["path"]])
    for kind, (total, hits) in sorted(by_kind.items()):
        results[f"R@0.3 {kind} ({total})"] = hits / total
    return results


def parser_cost(shared: Path, n_paragraphs: int = 1000) -> None:
    """ms per paragraph of spaCy's passes on BBC paragraphs (every Nth file, blank-line paragraphs): NER
    as before this change (the shared tok2vec, which only the parser reads, and ner), NER alone as now,
    and the reported-speech parse (tok2vec + parser). Best of 3 (the machine is shared)."""
    import time

    sys.path.insert(0, str(ROOT))
    from tasks.entities import NER_PIPES, load_nlp
    from tasks.settings import Settings

    files = sorted((shared / "corpora" / "bbc").rglob("*.txt"))
    texts: list[str] = []
    for path in files[:: max(1, len(files) // 300)]:
        texts += [p.strip() for p in path.read_text().split("\n\n") if p.strip()]
    texts = texts[:n_paragraphs]
    nlp = load_nlp(Settings().spacy_model)
    passes = {"NER before (tok2vec + ner)": ["tok2vec", *NER_PIPES], "NER now (ner)": list(NER_PIPES),
              "parse (tok2vec + parser)": ["tok2vec", "parser"]}
    print(f"{len(texts)} paragraphs, {sum(len(t.split()) for t in texts) / len(texts):.0f} words each on average")
    for name, kept in passes.items():
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            with nlp.select_pipes(enable=kept):
                for _doc in nlp.pipe(texts, batch_size=64):
                    pass
            best = min(best, time.perf_counter() - started)
        print(f"{name:28} {best * 1000 / len(texts):.2f} ms/paragraph")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--parser-cost", action="store_true", help="time spaCy's passes instead of scoring")
    args = parser.parse_args()
    if args.parser_cost:
        parser_cost(args.shared.resolve())
        return
    articles = json.loads(GOLD.read_text())
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-quotes-"))
    warehouse = run_pipeline(args.repo.resolve(), args.shared.resolve(), out.resolve(), articles)
    results = score(articles, system_quotes(warehouse, args.shared.resolve(), articles), args.show_errors)
    for name, value in results.items():
        print(f"{name:24} {value:.3f}" if isinstance(value, float) else f"{name:24} {value}")


if __name__ == "__main__":
    main()
