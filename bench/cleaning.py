"""Cleaning benchmark: newsdag's real cleaner on the article-extraction benchmark pages, and on BBC.

  python bench/cleaning.py [--shared DIR] [--out DIR]

For each raw set (raw_trafilatura_recall, raw_goose) it decodes and cleans every page with the same
functions the flow uses, writes the bodies to OUT/<set>/<id>.txt and prints the scorer's table
(../shared/bench/score_cleaning.py), next to the untouched input. On the BBC corpus (clean text) it
reports the share of body words the cleaner removed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.clean import clean_texts  # noqa: E402
from tasks.ingest import UnreadableFile, decode_bytes  # noqa: E402


def clean_folder(raw_dir: Path, out_dir: Path, group_by_folder: bool = True) -> dict[str, str]:
    """Clean every file of a folder as one corpus batch (the flow's cross-article evidence included)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    texts: dict[str, str] = {}
    for path in sorted(raw_dir.rglob("*.txt")):
        try:
            texts[str(path.relative_to(raw_dir))], _ = decode_bytes(path.read_bytes())
        except UnreadableFile:
            continue
    cleaned = clean_texts(texts)
    for name, article in cleaned.items():
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(article.body)
    return {name: article.body for name, article in cleaned.items()}


def score(shared: Path, gold: Path, pred: Path, raw: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(shared / "bench" / "score_cleaning.py"), "--gold", str(gold), "--pred", str(pred),
         "--raw", str(raw)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "cleaning")
    args = parser.parse_args()
    bench = args.shared / "bench" / "cleaning"
    for raw_set in ("raw_trafilatura_recall", "raw_goose"):
        raw = bench / raw_set
        clean_folder(raw, args.out / raw_set)
        print(f"== {raw_set}: untouched input")
        print(score(args.shared, bench / "gold", raw, raw))
        print(f"== {raw_set}: newsdag clean")
        print(score(args.shared, bench / "gold", args.out / raw_set, raw))

    corpus = args.shared / "corpora" / "bbc"
    total = kept = 0
    bodies = clean_folder(corpus, args.out / "bbc")
    for name, body in bodies.items():
        text, _ = decode_bytes((corpus / name).read_bytes())
        body_words = len(text.split("\n", 1)[1].split()) if "\n" in text else len(text.split())  # line 1 is the title
        total += body_words
        kept += min(len(body.split()), body_words)
    print(f"== bbc ({len(bodies)} articles, clean text): body words removed {1 - kept / total:.4%}")


if __name__ == "__main__":
    main()
