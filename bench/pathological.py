"""The cost of one pathological file against an ordinary run's, per step (issue 29, case 4).

Builds three ~1 MB files from the sentences of the samples in data/raw/ (shuffled, seeded):
- `paragraph`: one paragraph, no blank line, real sentences with their quotes;
- `sentence`: the same words with no sentence-ending punctuation (one giant sentence);
- `quotes`: one paragraph whose quote marks are straight and unbalanced (one mark dropped or one
  stray mark added per sentence);
and times each step (cleaning, paragraph split, spaCy mentions + resolution, quotes, embedding) on each
file alone and on `--ordinary` BBC articles as one batch, with the peak resident memory each step
adds (Linux's VmHWM, reset before the step). Prints a table of seconds per MB and the ratio
"seconds per MB of the pathological file / seconds per MB of the ordinary articles".

Usage: PYTHONPATH=$PWD python bench/pathological.py [--mb 1.0] [--ordinary 200] [--shapes paragraph,sentence,quotes]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks import cleaning, embed, entities, paragraphs, quotes  # noqa: E402
from tasks.settings import get_settings  # noqa: E402

SHAPES = ("paragraph", "sentence", "quotes")


def sample_sentences(raw_dir: Path = ROOT / "data" / "raw") -> list[str]:
    """The sentences of the sample articles' bodies (their first line, the title, left out)."""
    found: list[str] = []
    for path in sorted(raw_dir.glob("*.txt")):
        body = path.read_text(encoding="utf-8").split("\n\n", 1)[-1]
        for block in body.split("\n\n"):
            found += [s for s in re.split(r"(?<=[.!?”\"])\s+", " ".join(block.split())) if len(s.split()) > 3]
    return found


def pathological_text(size: int, shape: str, seed: int = 0) -> str:
    """A title line, a blank line, then one paragraph of about `size` characters of `shape` (see above)."""
    sentences, rng = sample_sentences(), random.Random(seed)
    parts: list[str] = []
    length = 0
    while length < size:
        sentence = rng.choice(sentences)
        if shape == "sentence":
            sentence = re.sub(r"[.!?]", "", sentence)
        elif shape == "quotes":
            sentence = sentence.replace("“", '"').replace("”", '"')
            sentence = sentence.replace('"', "", 1) if rng.random() < 0.5 else f'{sentence} "'
        elif shape != "paragraph":
            raise ValueError(f"unknown shape {shape!r}: one of {', '.join(SHAPES)}")
        parts.append(sentence)
        length += len(sentence) + 1
    return f"A pathological {shape}\n\n" + " ".join(parts) + "\n"


def _memory_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def measure(function: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, MB of resident memory the call added at its peak)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    before = _memory_kb("VmRSS")
    started = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - started
    return result, seconds, (_memory_kb("VmHWM") - before) / 1024


def run_steps(documents: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Seconds and peak MB of each step on these documents, as the flow chains them."""
    settings = get_settings()
    out: dict[str, tuple[float, float]] = {}
    (articles, _), *cost = measure(lambda: cleaning.clean_articles(documents))
    out["clean"] = tuple(cost)  # type: ignore[assignment]
    paras, *cost = measure(lambda: paragraphs.split_paragraphs(articles))
    out["split"] = tuple(cost)  # type: ignore[assignment]

    def find_entities() -> tuple[pl.DataFrame, pl.DataFrame]:
        mentions = entities.extract_mentions_in_chunks(paras, settings.spacy_model, settings.ner_batch_size)
        return entities.canonicalise_entities(mentions, pl.DataFrame(schema=entities.ENTITY_SCHEMA))

    (entity_rows, resolved), *cost = measure(find_entities)
    out["entities"] = tuple(cost)  # type: ignore[assignment]
    found, *cost = measure(lambda: (quotes.quote_texts(paras), quotes.extract_quotes(paras, resolved, entity_rows))[1])
    out["quotes"] = tuple(cost)  # type: ignore[assignment]
    texts = list(dict.fromkeys(paras["text"].to_list() + found["text"].to_list()))
    _, *cost = measure(lambda: embed.encode_texts(texts, settings.embedding_model, settings.embedding_device,
                                                  settings.embedding_batch_size))
    out["embed"] = tuple(cost)  # type: ignore[assignment]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0, help="size of each pathological file")
    parser.add_argument("--ordinary", type=int, default=200, help="BBC articles in the ordinary batch")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--bbc", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    args = parser.parse_args()
    settings = get_settings()
    entities.load_nlp(settings.spacy_model)  # models loaded outside the timings, as in a run
    embed.load_model(settings.embedding_model, settings.embedding_device)

    files = sorted(p for p in args.bbc.glob("*/*.txt"))
    files = random.Random(0).sample(files, min(args.ordinary, len(files)))
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    ordinary = pl.DataFrame({"article_id": [f"bbc-{i}" for i in range(len(files))],
                             "source_path": [str(p) for p in files], "text": texts})
    ordinary_mb = sum(len(t.encode()) for t in texts) / 1e6
    run_steps(ordinary.head(5))  # warm-up: first calls into spaCy and torch
    rows = [("ordinary", ordinary_mb, run_steps(ordinary))]
    print("ordinary: " + ", ".join(f"{step} {seconds:.1f} s" for step, (seconds, _) in rows[0][2].items()), flush=True)
    for shape in args.shapes.split(","):
        text = pathological_text(int(args.mb * 1e6), shape)
        documents = pl.DataFrame({"article_id": [shape], "source_path": [f"pathological/{shape}.txt"], "text": [text]})
        rows.append((shape, len(text.encode()) / 1e6, run_steps(documents)))
        print(f"{shape}: " + ", ".join(f"{step} {seconds:.1f} s" for step, (seconds, _) in rows[-1][2].items()), flush=True)

    base = {step: seconds / ordinary_mb for step, (seconds, _) in rows[0][2].items()}
    steps = list(base)
    print(f"ordinary: {len(files)} BBC articles, {ordinary_mb:.2f} MB; machine: {settings.embedding_device}")
    print("| input | MB | " + " | ".join(f"{s} s/MB (× ordinary), peak MB" for s in steps) + " | total s/MB (×) |")
    print("|---|---|" + "---|" * (len(steps) + 1))
    base_total = sum(base.values())
    for name, mb, costs in rows:
        cells = [f"{costs[s][0] / mb:.2f} ({costs[s][0] / mb / base[s]:.1f}×), {costs[s][1]:.0f}" for s in steps]
        total = sum(seconds for seconds, _ in costs.values()) / mb
        print(f"| {name} | {mb:.2f} | " + " | ".join(cells) + f" | {total:.2f} ({total / base_total:.1f}×) |")


if __name__ == "__main__":
    main()
