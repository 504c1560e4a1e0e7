"""Cleaning benchmark: newsdag's real cleaner on the article-extraction benchmark pages, and on BBC.

  python bench/cleaning.py [--shared DIR] [--out DIR] [--no-bbc]

For each raw set (raw_trafilatura_recall = the dev pages, raw_goose, raw_fullpage = the same pages as whole-page
text, menus and footers included) it decodes and cleans every page with
the same functions the flow uses, writes the bodies to OUT/<set>/<id>.txt and prints the scorer's table
(../shared/bench/score_cleaning.py), next to the untouched input. Then, on the dev pages:
- per check of each rule: on how many pages it fired, how many spans it removed, and how many of those
  were content (the scorer's own line match against the gold body); and on how many pages it fired in the
  goose inputs and in ../shared/corpora/wikiref150 (no gold there): a check firing on one dev page is
  flagged, and its count elsewhere shows whether it is general;
- an ablation: aeb4 F1, boilerplate lines removed and content lost with each family of rules switched off.
On raw_fullpage also the ablation of each whole-page signal (tasks/cleaning/page.py), and the same pages' HTML
rendered one text node a line (another scraper's shape). On the BBC corpus (clean text) it reports the share of
body words the cleaner removed.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.cleaning import FAMILIES, ORDER, CleanedArticle, clean_texts, resolve_disabled  # noqa: E402
from tasks.ingest import UnreadableFile, decode_bytes  # noqa: E402


def read_folder(raw_dir: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(raw_dir.rglob("*.txt")):
        try:
            texts[str(path.relative_to(raw_dir))], _ = decode_bytes(path.read_bytes())
        except UnreadableFile:
            continue
    return texts


def clean_folder(raw_dir: Path, out_dir: Path) -> dict[str, CleanedArticle]:
    """Clean every file of a folder as one corpus batch (the flow's cross-article evidence included)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    cleaned = clean_texts(read_folder(raw_dir))
    for name, article in cleaned.items():
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(article.body)
    return cleaned


def score(shared: Path, gold: Path, pred: Path, raw: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(shared / "bench" / "score_cleaning.py"), "--gold", str(gold), "--pred", str(pred),
         "--raw", str(raw)],
        capture_output=True, text=True, check=True,
    )
    return result.stdout


def load_scorer(shared: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("score_cleaning", shared / "bench" / "score_cleaning.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def scores(scorer: ModuleType, gold: dict[str, str], bodies: dict[str, str], raw: dict[str, str]) -> tuple[float, float, float]:
    """aeb4 F1, boilerplate lines removed, content lines lost: the scorer's own figures."""
    ids = sorted(set(gold) & set(raw))
    per_doc = [scorer.doc_scores(gold[i], bodies.get(i, "")) for i in ids]
    _, _, f1, _ = scorer.summarise(per_doc, "aeb4")
    lines: Counter = Counter()
    for i in ids:
        lines += scorer.line_counts(raw[i], gold[i], bodies.get(i, ""))
    boilerplate = lines["bp", "removed"] + lines["bp", "kept"]
    content = lines["content", "removed"] + lines["content", "kept"]
    return f1, lines["bp", "removed"] / boilerplate, lines["content", "removed"] / content


def pages_fired(cleaned: dict[str, CleanedArticle]) -> Counter:
    """On how many documents each check removed something."""
    return Counter(key for article in cleaned.values() for key in {span.check or span.reason for span in article.removed})


def per_check_table(scorer: ModuleType, cleaned: dict[str, CleanedArticle], gold: dict[str, str],
                    elsewhere: dict[str, Counter]) -> None:
    """Per check: dev pages it fired on, spans removed, and spans that were content by the scorer's line match;
    and the pages it fired on in other corpora (`elsewhere`), where a check seen on one dev page shows whether
    it is general."""
    pages: dict[str, set[str]] = {check.name: set() for check in ORDER}
    spans: Counter = Counter()
    content: Counter = Counter()
    examples: dict[str, str] = {}
    for name, article in cleaned.items():
        page = Path(name).stem
        if page not in gold:
            continue
        gold_norm = scorer._norm(gold[page])
        gold_tri = set(scorer.shingles(gold_norm.split(), 3))
        for span in article.removed:
            key = span.check or span.reason
            pages.setdefault(key, set()).add(page)
            spans[key] += 1
            if scorer.tokens(span.text) and scorer.line_in(span.text, gold_norm, gold_tri):
                content[key] += 1
                examples.setdefault(key, f"{page[:8]}: {' '.join(span.text.split())[:70]}")
    other = "".join(f" {name[:9]:>9}" for name in elsewhere)
    print(f"{'rule.check':<44} {'pages':>5} {'spans':>6} {'content':>7}{other}")
    rules = {check.name: check.rule.name for check in ORDER}
    for key in [check.name for check in ORDER] + sorted(set(pages) - {check.name for check in ORDER}):
        counts = "".join(f" {fired[key]:>9}" for fired in elsewhere.values())
        flag = "  <- one dev page" if len(pages[key]) == 1 else ""
        print(f"{rules.get(key, '?') + '.' + key:<44} {len(pages[key]):>5} {spans[key]:>6} {content[key]:>7}{counts}{flag}")
    if examples:
        print("content removed (first example per check):")
        for key, example in examples.items():
            print(f"  {key}: {example}")


def ablation_table(scorer: ModuleType, texts: dict[str, str], gold: dict[str, str], raw: dict[str, str]) -> None:
    """aeb4 F1 and the line metrics with each family switched off, against all rules on."""
    def bodies(disabled: frozenset[str]) -> dict[str, str]:
        return {Path(name).stem: article.body for name, article in clean_texts(texts, disabled).items()}

    f1, removed, lost = scores(scorer, gold, bodies(frozenset()), raw)
    print(f"{'switched off':<18} {'aeb4 F1':>8} {'ΔF1':>7} {'bp_removed':>10} {'content_lost':>12}")
    print(f"{'(none)':<18} {f1:>8.4f} {'':>7} {removed:>10.3f} {lost:>12.4f}")
    for family in FAMILIES:
        f, r, c = scores(scorer, gold, bodies(resolve_disabled([family])), raw)
        print(f"{family:<18} {f:>8.4f} {f - f1:>+7.4f} {r:>10.3f} {c:>12.4f}")


def text_nodes_folder(html_dir: Path, gold: dict[str, str]) -> dict[str, str]:
    """The benchmark's HTML pages as a scraper that puts every text node on its own line leaves them
    (`BeautifulSoup.get_text("\\n", strip=True)`, here with lxml): the page's title, a blank line, then each
    text node of the body (scripts and styles dropped). Sentences come cut at their links."""
    import gzip

    import lxml.html

    texts: dict[str, str] = {}
    for path in sorted(html_dir.glob("*.html.gz")):
        page_id = path.name.removesuffix(".html.gz")
        if page_id not in gold:
            continue
        document = lxml.html.fromstring(gzip.decompress(path.read_bytes()))
        for element in document.xpath("//script|//style|//noscript|//template"):
            element.drop_tree()
        title = " ".join((document.findtext(".//title") or "").split())
        body = document.find("body")
        nodes = [" ".join(node.split()) for node in (body if body is not None else document).itertext()]
        texts[f"{page_id}.txt"] = title + "\n\n" + "\n".join(node for node in nodes if node)
    return texts


def signal_ablation(scorer: ModuleType, texts: dict[str, str], gold: dict[str, str], raw: dict[str, str]) -> None:
    """aeb4 F1 and the line metrics with each whole-page signal (tasks/cleaning/page.py) switched off."""
    from tasks.cleaning import page

    def measure(signals: page.Signals) -> tuple[float, float, float]:
        original, page.SIGNALS = page.SIGNALS, signals
        try:
            bodies = {Path(name).stem: article.body for name, article in clean_texts(texts).items()}
        finally:
            page.SIGNALS = original
        return scores(scorer, gold, bodies, raw)

    f1, removed, lost = measure(page.Signals())
    print(f"{'signal off':<18} {'aeb4 F1':>8} {'ΔF1':>7} {'bp_removed':>10} {'content_lost':>12}")
    print(f"{'(none)':<18} {f1:>8.4f} {'':>7} {removed:>10.3f} {lost:>12.4f}")
    for signal in dataclasses.fields(page.Signals):
        f, r, c = measure(dataclasses.replace(page.Signals(), **{signal.name: False}))
        print(f"{signal.name:<18} {f:>8.4f} {f - f1:>+7.4f} {r:>10.3f} {c:>12.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "cleaning")
    parser.add_argument("--no-bbc", action="store_true", help="Skip the BBC corpus.")
    args = parser.parse_args()
    bench = args.shared / "bench" / "cleaning"
    scorer = load_scorer(args.shared)
    gold = scorer.read_dir(bench / "gold")
    wikiref = args.shared / "corpora" / "wikiref150" / "articles"
    elsewhere = {"goose": pages_fired(clean_texts(read_folder(bench / "raw_goose"))),
                 "wikiref150": pages_fired(clean_texts(read_folder(wikiref)))}
    for raw_set in ("raw_trafilatura_recall", "raw_goose", "raw_fullpage"):
        raw = bench / raw_set
        cleaned = clean_folder(raw, args.out / raw_set)
        print(f"== {raw_set}: untouched input")
        print(score(args.shared, bench / "gold", raw, raw))
        print(f"== {raw_set}: newsdag clean")
        print(score(args.shared, bench / "gold", args.out / raw_set, raw))
        if raw_set == "raw_trafilatura_recall":
            print(f"== {raw_set}: per check (pages fired, spans removed, of them content by the scorer's line match; "
                  "pages fired in the goose inputs of the same pages and in wikiref150, 150 other pages)")
            per_check_table(scorer, cleaned, gold, elsewhere)
            print(f"\n== {raw_set}: ablation, one family of rules switched off at a time")
            ablation_table(scorer, read_folder(raw), gold, scorer.read_dir(raw))
            print()
        if raw_set == "raw_fullpage":
            print(f"== {raw_set}: per check (as above, on the whole pages)")
            per_check_table(scorer, cleaned, gold, elsewhere)
            print(f"\n== {raw_set}: ablation, one family of rules switched off at a time")
            ablation_table(scorer, read_folder(raw), gold, scorer.read_dir(raw))
            print(f"\n== {raw_set}: the whole-page signals, one at a time")
            signal_ablation(scorer, read_folder(raw), gold, scorer.read_dir(raw))
            print()

    # The same whole pages in another scraper's shape (one text node a line), looked at only once the
    # whole-page rule was built (it led to its `fragments` signal): how far its figures carry to another shape.
    texts = text_nodes_folder(bench / "html", gold)
    raw = {Path(name).stem: text for name, text in texts.items()}
    print("== html rendered one text node a line (lxml, as get_text('\\n')): aeb4 F1, bp removed, content lost")
    for label, disabled in (("untouched", None), ("rulebook without whole_page", resolve_disabled(["whole_page"])),
                            ("newsdag clean", frozenset())):
        bodies = raw if disabled is None else {Path(n).stem: a.body for n, a in clean_texts(texts, disabled).items()}
        f1, removed, lost = scores(scorer, gold, bodies, raw)
        print(f"{label:<28} {f1:.4f} {removed:.3f} {lost:.4f}")
    print()

    if args.no_bbc:
        return
    corpus = args.shared / "corpora" / "bbc"
    total = kept = 0
    bodies = clean_folder(corpus, args.out / "bbc")
    for name, article in bodies.items():
        text, _ = decode_bytes((corpus / name).read_bytes())
        body_words = len(text.split("\n", 1)[1].split()) if "\n" in text else len(text.split())  # line 1 is the title
        total += body_words
        kept += min(len(article.body.split()), body_words)
    print(f"== bbc ({len(bodies)} articles, clean text): body words removed {1 - kept / total:.4%}")


if __name__ == "__main__":
    main()
