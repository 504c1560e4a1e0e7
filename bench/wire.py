"""Wire copy as agencies send it: newsdag's whole pipeline on CoNLL-2003's Reuters documents.

  python bench/wire.py [--corpus DIR] [--work DIR] [--warehouse FILE] [--dev-files 150]

Runs `newsdag run` over a copy of the corpus's files into a fresh warehouse (or reads `--warehouse`, one
made already), then scores what the warehouse stores against what the files themselves show:
- table rows: lines of figures (two or more numbers, a fifth of the line's tokens or more, no run of three
  lower-case words, which prose has, and not the "-- <desk> <phone>" sign-off): kept in the body, and kept inside a
  paragraph of kind `table`;
- bylines: a personal name alone on the line between the headline and the dateline: in `authors`;
- datelines: the line under the headline (or byline) naming the place in capitals, with the date or with its
  region ("LONDON 1996-08-30", "MILWAUKEE , Wisconsin 1996-08-29", "FARMINGTON HILLS , Mich ."): its place in
  `dateline`, its date in `published`;
- language: `en` for every document;
- prose lost: lines after the head with a run of three lower-case words that are missing from the body
  (other lines lost: any other line after the head missing from the body; a section heading counts as kept);
- entities: PER/ORG/LOC micro precision, recall and F1 against the corpus's `entities.tsv`, on the lines after
  the head (headline, byline and dateline are metadata, not body), exact spans and labels: the warehouse's
  mentions (each with its entity's resolved label) beside raw spaCy (the same model) run on each of those lines.
The files are split in two: the first `--dev-files` (rules were developed looking at those) and the rest
(held out), each reported apart, then all together.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# spaCy's labels as CoNLL's: GPE, LOC and FAC are places; NORP and the rest are not scored (MISC).
SPACY_TO_CONLL = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}
SCORED = {"PER", "ORG", "LOC"}

_NUMBER = re.compile(r"^\W*\d[\d.,:/%-]*\W*$|^\.\d+$")
_PROSE_RUN = re.compile(r"(?:\b[a-z][a-z'-]*\b[ ,]+){2}\b[a-z][a-z'-]*\b")
DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'.&-]*(?: [A-Z][A-Z'.&-]*)*(?: , [A-Z][\w'.&-]*(?: [A-Z][\w'.&-]*)*)?)"
    r"(?: (?P<date>\d{4}-\d{2}-\d{2}))?(?: \.)?$"
)
NAME = re.compile(r"^[A-Z][a-z'’-]+(?: [A-Z][\w'’.-]+){1,3}$")


def is_table_row(line: str) -> bool:
    tokens = line.split()
    numbers = sum(bool(_NUMBER.match(token)) for token in tokens)
    # "-- Warsaw Newsroom +48 22 653 9700": the sign-off, a phone number, not a row.
    return numbers >= 2 and numbers >= 0.2 * len(tokens) and not _PROSE_RUN.search(line) and not line.startswith("--")


def is_prose(line: str) -> bool:
    return bool(_PROSE_RUN.search(line))


@dataclass
class Gold:
    """What one file shows about itself."""

    body_lines: list[int] = field(default_factory=list)  # indices of the non-blank lines after the head
    byline: str | None = None
    place: str | None = None
    date: str | None = None


def read_gold(text: str) -> Gold:
    lines = text.split("\n")
    content = [index for index, line in enumerate(lines) if line.strip()]
    gold = Gold()
    head = 1  # the headline
    if len(content) > 2 and NAME.match(lines[content[1]].strip()) and _is_dateline(lines[content[2]].strip()):
        gold.byline = lines[content[1]].strip()
        head = 2
    if len(content) > head and _is_dateline(lines[content[head]].strip()):
        match = DATELINE.match(lines[content[head]].strip())
        assert match
        gold.place, gold.date = match.group("place").replace(" , ", ", "), match.group("date")
        head += 1
    gold.body_lines = content[head:]
    return gold


def _is_dateline(line: str) -> bool:
    match = DATELINE.match(line)
    return bool(match) and (bool(match.group("date")) or " , " in match.group("place"))


def fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def run_pipeline(corpus: Path, work: Path) -> Path:
    raw = work / "raw"
    shutil.rmtree(work, ignore_errors=True)
    raw.mkdir(parents=True)
    for path in sorted((corpus / "articles").glob("*.txt")):
        shutil.copy(path, raw / path.name)
    warehouse = work / "warehouse.duckdb"
    subprocess.run([sys.executable, "-m", "flows", "run", "--ephemeral", "--raw-dir", str(raw), "--warehouse", str(warehouse)],
                   cwd=ROOT, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL)
    return warehouse


def read_entities(corpus: Path) -> dict[str, set[tuple[int, int, int, str]]]:
    gold: dict[str, set[tuple[int, int, int, str]]] = defaultdict(set)
    with open(corpus / "entities.tsv", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["label"] in SCORED:
                gold[row["file"]].add((int(row["line"]), int(row["start_char"]), int(row["end_char"]), row["label"]))
    return gold


def locate_lines(lines: list[str], indices: list[int], stored: str) -> dict[int, int]:
    """Where each body line starts in the stored text (paragraphs joined by blank lines), in order."""
    found: dict[int, int] = {}
    cursor = 0
    for index in indices:
        line = " ".join(lines[index].split())
        at = stored.find(line, cursor)
        if at < 0:
            at = stored.find(line)
        if at >= 0:
            found[index] = at
            cursor = at + len(line)
    return found


def prf(true_positives: int, predicted: int, gold: int) -> tuple[float, float, float]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "conll2003-valid")
    parser.add_argument("--work", type=Path, default=None, help="Folder for the copy and the warehouse (a temporary one).")
    parser.add_argument("--warehouse", type=Path, default=None, help="Score this warehouse instead of running the pipeline.")
    parser.add_argument("--dev-files", type=int, default=150)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        warehouse = args.warehouse or run_pipeline(args.corpus, args.work or Path(scratch))
        connection = duckdb.connect(str(warehouse), read_only=True)
        articles = {Path(row[0]).name: row[1:] for row in connection.execute(
            "select source_path, article_id, authors, dateline, cast(published as varchar), language from articles").fetchall()}
        paragraphs: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        headings: dict[str, set[str]] = defaultdict(set)  # section headings are stored beside their paragraph
        for article_id, paragraph_id, text, kind, heading in connection.execute(
                "select article_id, paragraph_id, text, kind, section_heading from paragraphs "
                "order by article_id, position").fetchall():
            paragraphs[article_id].append((paragraph_id, text, kind))
            if heading:
                headings[article_id].add(" ".join(heading.split()))
        mentions: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        for paragraph_id, start, end, label in connection.execute(
                "select m.paragraph_id, m.start_char, m.end_char, e.label from entity_mentions m join entities e using (entity_id)").fetchall():
            mentions[paragraph_id].append((start, end, label))
        connection.close()

    from tasks.entities import load_nlp
    from tasks.settings import Settings

    nlp = load_nlp(Settings().spacy_model)
    gold_entities = read_entities(args.corpus)
    names = sorted(path.name for path in (args.corpus / "articles").glob("*.txt"))
    splits = {f"dev (first {args.dev_files})": names[:args.dev_files],
              f"held out (last {len(names) - args.dev_files})": names[args.dev_files:], "all": names}
    results: dict[str, dict[str, list[int]]] = {}
    for split, files in splits.items():
        tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        entity_counts = {"stored": [0, 0, 0], "raw spaCy": [0, 0, 0]}  # true positives, predicted, gold
        for name in files:
            text = (args.corpus / "articles" / name).read_text()
            lines = text.split("\n")
            gold = read_gold(text)
            article_id, authors, dateline, published, language = articles[name]
            stored_paragraphs = paragraphs[article_id]
            starts, position = [], 0
            for _, paragraph_text, _ in stored_paragraphs:
                starts.append(position)
                position += len(paragraph_text) + 2
            stored = "\n\n".join(paragraph_text for _, paragraph_text, _ in stored_paragraphs)
            located = locate_lines(lines, gold.body_lines, stored)
            for index in gold.body_lines:
                line = lines[index].strip()
                kind = "rows" if is_table_row(line) else "prose" if is_prose(line) else "other lines"
                tally[f"{kind} kept"][1] += 1
                tally[f"{kind} kept"][0] += index in located or " ".join(line.split()) in headings[article_id]
                if kind == "rows":
                    at = located.get(index)
                    paragraph = max((n for n, start in enumerate(starts) if at is not None and start <= at), default=None)
                    tally["rows in table paragraphs"][1] += 1
                    tally["rows in table paragraphs"][0] += paragraph is not None and stored_paragraphs[paragraph][2] == "table"
            if gold.byline:
                tally["bylines in authors"][1] += 1
                tally["bylines in authors"][0] += gold.byline in (authors or [])
            if gold.place:
                tally["datelines' place in dateline"][1] += 1
                tally["datelines' place in dateline"][0] += fold(dateline or "") == fold(gold.place)
            if gold.date:
                tally["datelines' date in published"][1] += 1
                tally["datelines' date in published"][0] += published == gold.date
            tally["language en"][1] += 1
            tally["language en"][0] += language == "en"

            body = set(gold.body_lines)
            expected = {entity for entity in gold_entities.get(name, set()) if entity[0] in body}
            # The warehouse's mentions, placed back on the file's lines.
            spans = sorted((at, index) for index, at in located.items())
            predicted: set[tuple[int, int, int, str]] = set()
            for (paragraph_id, _, _), start in zip(stored_paragraphs, starts):
                for mention_start, mention_end, label in mentions.get(paragraph_id, []):
                    if label not in SPACY_TO_CONLL:
                        continue
                    begin, end = start + mention_start, start + mention_end
                    owner = max(((at, index) for at, index in spans if at <= begin), default=None)
                    if owner is None or end > owner[0] + len(lines[owner[1]].strip()):
                        predicted.add((-1, begin, end, label))  # across lines: cannot match
                        continue
                    predicted.add((owner[1], begin - owner[0], end - owner[0], SPACY_TO_CONLL[label]))
            raw: set[tuple[int, int, int, str]] = set()
            for index, doc in zip(gold.body_lines, nlp.pipe(lines[index] for index in gold.body_lines)):
                raw.update((index, ent.start_char, ent.end_char, SPACY_TO_CONLL[ent.label_])
                           for ent in doc.ents if ent.label_ in SPACY_TO_CONLL)
            for label, found in (("stored", predicted), ("raw spaCy", raw)):
                counts = entity_counts[label]
                counts[0] += len(found & expected)
                counts[1] += len(found)
                counts[2] += len(expected)
        results[split] = dict(tally)
        print(f"\n{split}: {len(files)} files")
        print("| target | met | of |\n|---|---|---|")
        for key in ("rows kept", "rows in table paragraphs", "bylines in authors", "datelines' place in dateline",
                    "datelines' date in published", "language en", "prose kept", "other lines kept"):
            met, total = tally.get(key, [0, 0])
            print(f"| {key} | {met} | {total} |")
        print("\n| entities (PER/ORG/LOC, body lines) | precision | recall | F1 |\n|---|---|---|---|")
        for label, (true_positives, predicted_n, gold_n) in entity_counts.items():
            precision, recall, f1 = prf(true_positives, predicted_n, gold_n)
            print(f"| {label} | {precision:.3f} | {recall:.3f} | **{f1:.3f}** |")


if __name__ == "__main__":
    main()
