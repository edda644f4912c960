"""How well a tokenizer covers each language's text: the share of ``<unk>`` pieces and the pieces per word.

A tokenizer that does not know a language's characters maps them to ``<unk>``, and one that knows the characters but
not the language's subwords splits its words into many short pieces; neither raises an error, both cost accuracy.
``log_coverage`` logs both numbers per language and warns when they cross a threshold:

    coverage = log_coverage(tokenizer, {lang: texts_of(data[lang]) for lang in data})

Texts are word lists (token classification, tokenised as pre-split words, as the tasks do) or strings (sentence
classification, QA). Special tokens are not counted. For strings, words are whitespace-separated words, so pieces
per word means little for languages written without spaces.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Warn when more than this share of a language's pieces are <unk> (a few unknown symbols are normal; 1% is not).
UNK_SHARE_WARN = 0.01
# Warn when words (given as word lists) split into more pieces than this on average. XLM-R-style vocabularies give
# about 1.2-2 on the languages they were trained for; 3 and more means the vocabulary barely knows the language.
PIECES_PER_WORD_WARN = 3.0
# Texts per call to the fast tokenizer: big enough to use its threads, small enough to bound memory on long contexts.
BATCH_SIZE = 1000
# The columns of the canonical schemas (hf_mixtrain.data) that hold text.
TEXT_COLUMNS = ("premise", "hypothesis", "question", "context")

DEFAULT_FIX = (
    "use a model (--model_name_or_path) or tokenizer (--tokenizer_name) whose vocabulary covers {lang}; with an "
    "offline --benchmark preset the full-vocabulary encoder covers it (hf_mixtrain.offline.covering_model)"
)


@dataclass(frozen=True)
class Coverage:
    """Counts over one language's texts. ``unk_share`` = unk_pieces / pieces; ``pieces_per_word`` = pieces / words."""

    texts: int
    words: int
    pieces: int
    unk_pieces: int
    split_into_words: bool
    unk_share: float = field(init=False)
    pieces_per_word: float = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "unk_share", self.unk_pieces / self.pieces if self.pieces else 0.0)
        object.__setattr__(self, "pieces_per_word", self.pieces / self.words if self.words else 0.0)


def _is_split(texts: Sequence) -> bool:
    """True for word lists, False for strings; raises on a mix."""
    split = not isinstance(texts[0], str)
    if any(isinstance(t, str) == split for t in texts):
        raise ValueError("texts must be all strings or all lists of words, not a mix")
    return split


def piece_ids(tokenizer, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
    """The ids ``tokenizer`` gives each text, without special tokens, truncation or padding.

    Word lists are tokenised as pre-split words (``is_split_into_words=True``), as the token classification task does.
    """
    texts = list(texts)
    if not texts:
        return []
    split = _is_split(texts)
    if split:
        texts = [list(t) for t in texts]
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    out: list[list[int]] = []
    for start in range(0, len(texts), BATCH_SIZE):
        batch = texts[start:start + BATCH_SIZE]
        if backend is None:
            out.extend(tokenizer(batch, is_split_into_words=split, add_special_tokens=False)["input_ids"])
            continue
        # A transformers call with truncation/padding leaves them set on the backend (each call sets its own again);
        # every piece must count here.
        backend.no_truncation()
        backend.no_padding()
        out.extend(enc.ids for enc in backend.encode_batch(batch, is_pretokenized=split, add_special_tokens=False))
    return out


def coverage_of_ids(ids: list[list[int]], texts: Sequence, unk_id: int | None) -> Coverage:
    """``Coverage`` from ``piece_ids(tokenizer, texts)`` (lets a caller reuse ids it already has)."""
    if not texts:
        return Coverage(texts=0, words=0, pieces=0, unk_pieces=0, split_into_words=False)
    split = _is_split(texts)
    words = sum(len(t) for t in texts) if split else sum(len(t.split()) for t in texts)
    return Coverage(
        texts=len(texts),
        words=words,
        pieces=sum(map(len, ids)),
        unk_pieces=0 if unk_id is None else sum(row.count(unk_id) for row in ids),
        split_into_words=split,
    )


def tokenizer_coverage(tokenizer, texts: Iterable[str | Sequence[str]]) -> Coverage:
    """Words, pieces and ``<unk>`` pieces of ``texts`` (all strings, or all word lists) under ``tokenizer``."""
    texts = list(texts)
    return coverage_of_ids(piece_ids(tokenizer, texts), texts, tokenizer.unk_token_id)


def texts_of(data) -> list:
    """The text of a canonical dataset (a Dataset, a DatasetDict or a list of either), for ``log_coverage``.

    Token tasks: the ``tokens`` word lists. Otherwise the distinct strings of each text column (premise, hypothesis,
    question, context): QA repeats a context for each of its questions, XNLI a premise for each hypothesis.
    """
    if isinstance(data, Mapping):
        data = list(data.values())
    elif not isinstance(data, (list, tuple)):
        data = [data]
    words: list = []
    strings: dict[str, None] = {}
    for ds in data:
        if "tokens" in ds.column_names:
            words.extend(ds["tokens"])
            continue
        columns = [c for c in TEXT_COLUMNS if c in ds.column_names]
        if not columns:
            raise ValueError(f"no text column in {ds.column_names}: expected 'tokens' or one of {TEXT_COLUMNS}")
        for column in columns:
            strings.update(dict.fromkeys(ds[column]))
    if words and strings:
        raise ValueError("texts_of: some datasets hold word lists ('tokens') and others strings; pass one kind")
    return words or list(strings)


def log_coverage(
    tokenizer,
    texts_by_lang: Mapping[str, Iterable[str | Sequence[str]]],
    threshold: float = UNK_SHARE_WARN,
    max_pieces_per_word: float | None = PIECES_PER_WORD_WARN,
    fix: str = DEFAULT_FIX,
) -> dict[str, Coverage]:
    """Log each language's tokenizer coverage (one INFO line each) and return ``{lang: Coverage}``.

    A WARNING names every language whose ``unk_share`` is above ``threshold``, or (word lists only, where words are
    the data's own) whose ``pieces_per_word`` is above ``max_pieces_per_word`` (None: no such warning), with ``fix``
    (``{lang}`` is filled in).
    """
    result = {}
    for lang, texts in texts_by_lang.items():
        cov = tokenizer_coverage(tokenizer, texts)
        result[lang] = cov
        if not cov.texts:
            logger.info("tokenizer coverage %s: no text", lang)
            continue
        logger.info(
            "tokenizer coverage %s: %d texts, %d words -> %d pieces (%.2f pieces per word), %d <unk> (%.2f%%)",
            lang, cov.texts, cov.words, cov.pieces, cov.pieces_per_word, cov.unk_pieces, 100 * cov.unk_share,
        )
        problems = []
        if cov.unk_share > threshold:
            problems.append(f"{100 * cov.unk_share:.2f}% of its pieces are <unk> ({cov.unk_pieces} of {cov.pieces}; "
                            f"warning above {100 * threshold:g}%), so the model cannot read those parts of the text")
        if max_pieces_per_word is not None and cov.split_into_words and cov.pieces_per_word > max_pieces_per_word:
            problems.append(f"its words split into {cov.pieces_per_word:.2f} pieces on average (warning above "
                            f"{max_pieces_per_word:g}), so the vocabulary barely knows the language")
        if problems:
            logger.warning("the tokenizer does not cover %s: %s. Fix: %s", lang, "; ".join(problems),
                           fix.format(lang=lang))
    return result
