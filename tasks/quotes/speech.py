"""Reported speech from spaCy's dependency parse, stored so that quotes can be found again without parsing.

A *speech clause* is a verb of saying (say, tell, add, claim, warn, insist, deny, ... or "according
to") with its speaker and its content:
- `Kerry said the talks had failed`: the verb's nominal subject (nsubj) speaks, its clausal complement
  (ccomp) is the statement; so in `…, the OSI claimed` and `…, said Anthony Gooch` (subject after);
- `The purchase, analysts say, is vital`: a verb set into the clause it reports (parataxis) reports
  the clause around it;
- `According to officials, the plan was dropped`: the object of "to" speaks, the clause that
  "according" modifies is the statement;
- a verb with no subject of its own takes the subject of the verb it hangs from (`the OSI claimed,
  adding that …`; `Blair dismissed the talk and said …`), and `who` that of the noun it refers to
  (`John R. Amoss, who said he expects …`).
Not a statement: a negated verb ("did not say what"), an infinitive ("declined to say"), a passive
with no speaker ("are said to believe"), a question ("asked whether"), a clause that reports another
clause holding a speech verb (`It claims Blair said he would stand down`: the inner one is kept, with
the speaker who made it).

Beside these, the parse gives each sentence's named subjects (a capitalised nsubj: `Federer dropped a
set`): where "he said" points back to. Both are rows of CLAUSE_SCHEMA (`verb` null for a subject row),
offsets into the paragraph's text; quote extraction reads them with the paragraph and its mentions.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from spacy.tokens import Doc, Token

CLAUSE_SCHEMA = {
    "article_id": pl.String,
    "paragraph_id": pl.String,
    "verb": pl.String,  # the verb's base form ("say", "according to"); null: a sentence's named subject
    "verb_start": pl.Int32,  # offsets into paragraphs.text (the subject's, for a subject row)
    "verb_end": pl.Int32,
    "subject_start": pl.Int32,  # the subject phrase up to its head ("Foreign Ministry spokesman Evgeny Perebiynis")
    "subject_end": pl.Int32,
    "head_start": pl.Int32,  # the subject's head word ("Perebiynis"): the mention covering it is the speaker
    "head_end": pl.Int32,
    "content_start": pl.Int32,  # the statement (null for a subject row)
    "content_end": pl.Int32,
}

# Verbs of saying (base form: its inflections). Verbs of thinking (believe, think, expect, hope) report no
# statement; "ask" reports a question.
_SPEECH_BASES = (
    "say tell add warn claim announce insist deny admit acknowledge argue assert confirm explain note report "
    "reveal state declare suggest stress emphasise emphasize predict promise reply respond concede complain "
    "write tweet maintain contend allege testify indicate disclose counter remark observe recall vow pledge "
    "caution boast comment reiterate repeat rule accuse charge affirm reaffirm signal hint"
).split()
_IRREGULAR = {"say": ("says", "said", "saying"), "tell": ("tells", "told", "telling"),
              "write": ("writes", "wrote", "written", "writing"), "rule": ("rules", "ruled", "ruling")}


def _forms(base: str) -> Iterator[str]:
    """A regular verb's forms: add, adds, added, adding; note, notes, noted, noting; deny, denies, denied."""
    yield base
    if base in _IRREGULAR:
        yield from _IRREGULAR[base]
        return
    if base.endswith("y") and base[-2] not in "aeiou":
        yield from (base[:-1] + "ies", base[:-1] + "ied", base + "ing")
    elif base.endswith("e"):
        yield from (base + "s", base + "d", base[:-1] + "ing")
    else:
        plural = base + ("es" if base.endswith(("s", "sh", "ch", "x")) else "s")
        doubled = base + base[-1] if base in {"admit", "commit"} else base
        yield from (plural, doubled + "ed", doubled + "ing")


SPEECH_VERB_FORMS = {form: base for base in _SPEECH_BASES for form in _forms(base)}
PRONOUNS = {"he", "she", "it", "they", "we", "i", "you", "who", "that", "which"}
DEMONSTRATIVES = {"this", "that", "these", "those", "which", "what"}
# Paragraphs longer than this are not parsed (a 1 MB "paragraph" is a dump, not prose): their direct
# quotes are still found from the quote marks.
MAX_PARSE_CHARS = 20_000


def speech_base(token: Token) -> str | None:
    return SPEECH_VERB_FORMS.get(token.lower_)


def _subject_of(verb: Token) -> Token | None:
    """The verb's nominal subject; else (a participle, a second verb, a relative clause) its head's."""
    seen = 0
    while verb is not None and seen < 4:
        for child in verb.children:
            if child.dep_ == "nsubj":
                if child.lower_ in {"who", "that", "which"} and verb.dep_ == "relcl":
                    return verb.head
                return child
            if child.dep_ in {"nsubjpass", "auxpass", "csubjpass"}:
                return None  # passive: "are said to", "was told"
        if verb.dep_ not in {"conj", "advcl", "xcomp"} or verb.head is verb:
            return None
        verb, seen = verb.head, seen + 1
    return None


def _span(tokens: Iterable[Token]) -> tuple[int, int] | None:
    """Character span of `tokens` trimmed of punctuation, quote marks and a leading "that"."""
    kept = sorted(tokens, key=lambda t: t.i)
    while kept and (kept[0].is_punct or kept[0].is_space or (kept[0].dep_ == "mark" and kept[0].lower_ == "that")):
        kept.pop(0)
    while kept and (kept[-1].is_punct or kept[-1].is_space):
        kept.pop()
    if not kept:
        return None
    return kept[0].idx, kept[-1].idx + len(kept[-1].text)


def _content(verb: Token) -> list[Token] | None:
    """The tokens of what `verb` reports: its ccomp's subtree, or for a verb set into a clause (parataxis)
    that clause without the verb's own words."""
    for child in verb.children:
        if child.dep_ == "ccomp":
            return list(child.subtree)
    if verb.dep_ == "parataxis" and verb.head is not verb:
        own = {t.i for t in verb.subtree}
        return [t for t in verb.head.subtree if t.i not in own]
    return None


def _phrase(subject: Token) -> tuple[int, int]:
    """The subject's words up to its head: "Foreign Ministry spokesman Evgeny Perebiynis", not "..., who said"."""
    start = subject.left_edge
    return start.idx, subject.idx + len(subject.text)


def _named_head(subject: Token) -> Token:
    """The word naming the subject: an apposition's name where the subject is a role ("her publicist,
    Jack Ketsoyan"; "Ukraine's acting president" after a name stays with the name)."""
    for child in subject.children:
        if child.dep_ == "appos" and child.text[:1].isupper() and not subject.text[:1].isupper():
            return child
    return subject


def _row(verb: str, verb_at: tuple[int, int], subject: Token | None, content: tuple[int, int] | None) -> dict[str, Any]:
    subject_span = _phrase(subject) if subject is not None else (None, None)
    named = _named_head(subject) if subject is not None else None
    head = (named.idx, named.idx + len(named.text)) if named is not None else (None, None)
    return {"verb": verb, "verb_start": verb_at[0], "verb_end": verb_at[1], "subject_start": subject_span[0],
            "subject_end": subject_span[1], "head_start": head[0], "head_end": head[1],
            "content_start": content[0] if content else None, "content_end": content[1] if content else None}


def clauses_of(doc: Doc) -> list[dict[str, Any]]:
    """The speech clauses and named subjects of one parsed paragraph (CLAUSE_SCHEMA without the ids)."""
    found: list[tuple[set[int], dict[str, Any]]] = []
    subjects: list[dict[str, Any]] = []
    for token in doc:
        if token.dep_ == "nsubj":
            # `Matthew O'Connor, who coproduced Reid`: the noun "who" stands for is the subject
            named = token.head.head if token.lower_ == "who" and token.head.dep_ == "relcl" else token
            if named.text[:1].isupper() and named.lower_ not in PRONOUNS:
                at = (named.idx, named.idx + len(named.text))
                subjects.append({**_row("", at, named, None), "verb": None})
        base = speech_base(token)
        if token.lower_ == "according" and any(c.lower_ == "to" for c in token.children):
            to = next(c for c in token.children if c.lower_ == "to")
            source = next((c for c in to.children if c.dep_ == "pobj"), None)
            head = token.head
            if source is None or head is token:
                continue
            own = {t.i for t in token.subtree}
            content = [t for t in head.subtree if t.i not in own]
            span = _span(content)
            if span:
                found.append(({t.i for t in content}, _row("according to", (token.idx, to.idx + len(to.text)), source, span)))
            continue
        if base is None:
            continue
        if any(c.dep_ == "neg" for c in token.children) or token.dep_ in {"xcomp", "amod", "compound"}:
            continue
        content = _content(token)
        if not content:
            continue
        subject = _subject_of(token)
        span = _span(content)
        # "This confirms that …": a demonstrative is a document or a fact, not a source
        if subject is None or span is None or subject.lower_ in DEMONSTRATIVES:
            continue
        found.append(({t.i for t in content}, _row(base, (token.idx, token.idx + len(token.text)), subject, span)))
    rows = []
    for indices, row in found:
        # A clause whose statement holds another speech verb reports a report: the inner one is kept.
        if any(other is not row and other["verb_start"] >= row["content_start"] and other["verb_end"] <= row["content_end"]
               for _, other in found):
            continue
        rows.append(row)
    return rows + subjects


def parse_clauses(paragraphs: pl.DataFrame, nlp: Any, batch_size: int = 64) -> pl.DataFrame:
    """CLAUSE_SCHEMA rows for the paragraphs (`article_id`, `paragraph_id`, `text`), parsed with `nlp`'s
    parser alone (named entities come from their own pass, whose model shares nothing with the parser)."""
    parsed = paragraphs.filter(pl.col("text").str.len_chars() <= MAX_PARSE_CHARS)
    keys = parsed.select("article_id", "paragraph_id").rows()
    rows: list[dict[str, Any]] = []
    disabled = [name for name in nlp.pipe_names if name not in {"tok2vec", "parser"}]
    # `disable` for this call only: the model is shared (NER's pass reads it too), so it is never changed.
    with nlp.memory_zone():
        docs = nlp.pipe(parsed["text"].to_list(), batch_size=batch_size, disable=disabled)
        for (article_id, paragraph_id), doc in zip(keys, docs):
            rows.extend({"article_id": article_id, "paragraph_id": paragraph_id, **row} for row in clauses_of(doc))
    return pl.DataFrame(rows, schema=CLAUSE_SCHEMA)
