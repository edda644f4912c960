"""Data for few-shot cross-lingual transfer: the four tasks, the paper's languages, seeded K-shot sets.

Canonical schema (every row carries its language code in ``lang``):

- "ner", "pos": ``tokens`` List(string), ``tags`` List(ClassLabel)
- "qa": ``id``, ``context``, ``question``, ``answers`` {``text``: List(string), ``answer_start``: List(int32)}
- "xnli": ``premise``, ``hypothesis``, ``label`` ClassLabel; single-sentence classification has no
  ``hypothesis``

Splits are ``train``, ``validation``, ``test``.

Sources, per language: with ``data_dir=``, a language that has a folder there is read from it and every other
language comes from the Hub (see :mod:`hf_mixtrain.data.hub` for the datasets and the splits each has); without
``data_dir``, all come from the Hub. Each choice is logged, and ``load_languages(...).sources`` records it
(``{lang: {"source": "local", "path": ...} or {"source": "hub", "dataset": ..., "config": ...}}``). Layout::

    data_dir/
      en/                     one folder per language code (any code)
        dataset_dict.json     either a DatasetDict.save_to_disk folder (canonical or Hub column names) ...
        train/ test/ ...
      de/
        train.conll           ... or one file per split, named train, validation (or dev), test; the name may
        dev.conll             end in them (en_ewt-ud-train.conllu); several files of a split are concatenated
        test.conll

File formats:

- ``.conll`` ``.iob`` ``.txt`` (ner, pos): token and tag per line, tag in the last column, tab- or
  space-separated; a blank line between sentences; ``-DOCSTART-`` lines skipped. Tokens written as
  ``de:Berlin`` (raw WikiANN) lose the ``de:`` prefix.
- ``.conllu`` (pos): Universal Dependencies (the authors used UD v2.7: a language's ``<code>_*.conllu`` files);
  FORM and UPOS. ``ud_token_form="words"`` (default) keeps every syntactic word, as google/xtreme's udpos rows
  do: a multiword token's range line (``1-2``) is skipped and its word lines kept. ``ud_token_form="fused"``
  gives the authors' tokens (XTREME's preprocessing): each multiword token as its surface form, tagged with its
  head word's UPOS. Empty nodes (``5.1``), ``#`` comments and sentences without word forms (every FORM ``_``,
  counted in a warning) are skipped.
- ``.jsonl`` (any task): one JSON object per line in the canonical schema (Hub names like ``ner_tags``,
  ``sentence1`` are accepted; QA ``answers`` may be a SQuAD list of ``{"text", "answer_start"}``).

Labels given as strings become a ClassLabel: ``label_names=`` fixes the set and order; otherwise a known set
(WikiANN IOB2, UPOS, the 12 universal tags, XNLI) that holds every label seen, else the labels seen in a
stable order. ``data_dir`` may also be the language folder itself (``data_dir=data/de`` for "de").

Typical use::

    data = load_languages("ner", ["en", "de", "sw"])                       # Hub (WikiANN)
    data = load_languages("pos", PAPER_LANGUAGES["pos"], data_dir="ud")     # ud/<lang>/ where present, else Hub
    data.sources                                                           # where each language came from
    mixed = assemble("ner", data, source="en", targets=["de", "sw"], k=5, seed=1, method="gradient-mix")
    mixed.train, mixed.oracle_pools, mixed.test, mixed.source_dev
"""

from .assembly import METHODS, MixedData, assemble
from .errors import DataError
from .hub import hub_languages
from .languages import PAPER_LANGUAGES, TASKS
from .loading import LanguageData, load_language, load_languages
from .local import read_conll, read_conllu
from .sampling import UNITS, sample_k_shot, sample_rows

__all__ = [
    "DataError",
    "LanguageData",
    "METHODS",
    "MixedData",
    "PAPER_LANGUAGES",
    "TASKS",
    "UNITS",
    "assemble",
    "hub_languages",
    "load_language",
    "load_languages",
    "read_conll",
    "read_conllu",
    "sample_k_shot",
    "sample_rows",
]
