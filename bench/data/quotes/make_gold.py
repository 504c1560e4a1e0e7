"""Turn the hand annotation (annotations.txt) into gold.json: each statement's character span in the
article's file (../shared/corpora/<path>), found from the exact words written down (or the first and
last words of a long span, "start ... end"). Fails on a span it cannot find, so that a typo is never
scored as a miss.

    .venv/bin/python bench/data/quotes/make_gold.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse(lines: list[str]) -> dict[str, list[dict[str, object]]]:
    articles: dict[str, list[dict[str, object]]] = {}
    current = None
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("# ") and line[2:].strip().endswith(".txt"):
            current = line[2:].strip()
            articles[current] = []
        elif line.strip() and not line.startswith("#"):
            kind, speaker, span = (part.strip() for part in line.split(" | ", 2))
            assert current is not None and kind in {"direct", "indirect", "mixed"}, line
            articles[current].append({"kind": kind, "speakers": [s.strip() for s in speaker.split(" / ")], "span": span})
    return articles


def locate(text: str, span: str, after: int) -> tuple[int, int]:
    """Offsets of the annotated words: searched from `after` (annotations follow the text), else from 0."""
    head, _, tail = span.partition(" ... ")
    for origin in (after, 0):
        start = text.find(head, origin)
        if start < 0:
            continue
        end = start + len(head) if not tail else text.find(tail, start + len(head))
        if end < 0:
            continue
        return start, end + len(tail) if tail else end
    raise ValueError(f"not found: {span!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=HERE.parents[3] / ".." / "shared")
    args = parser.parse_args()
    articles = parse((HERE / "annotations.txt").read_text().splitlines())
    gold = []
    for path, statements in articles.items():
        text = (args.shared / "corpora" / path).read_text()
        after, quotes = 0, []
        for statement in statements:
            start, end = locate(text, str(statement["span"]), after)
            after = start
            quotes.append({"start_char": start, "end_char": end, "text": text[start:end], "kind": statement["kind"],
                           "speakers": statement["speakers"]})
        gold.append({"path": path, "quotes": quotes})
    (HERE / "gold.json").write_text(json.dumps(gold, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(gold)} articles, {sum(len(a['quotes']) for a in gold)} statements -> gold.json")


if __name__ == "__main__":
    main()
