"""Loaders for the paper's datasets on the Hugging Face Hub, converted to the canonical schema.

Sources and the splits they have:

- ner ``unimelb-nlp/wikiann`` (default): config ``<lang>`` (176 languages); train/validation/test.
- ner ``google/xtreme``: config ``PAN-X.<lang>`` (40 languages); train/validation/test.
- pos ``google/xtreme`` (default): config ``udpos.<LanguageName>`` (33 languages, UD v2.5; the authors used UD
  v2.7). Kazakh has only train/test; Tagalog, Thai and Yoruba only test. lt, pl, uk, wo, ro of the authors' list
  are not there, and el, fr, ru, zh are refused: their configs also hold Ancient Greek, Old French, Old Russian and
  Classical Chinese treebanks (see ``UDPOS_HUB_MIXED``). Those need local CoNLL-U files.
- qa ``google/xtreme`` (default) config ``tydiqa``, or ``google-research-datasets/tydiqa`` config
  ``secondary_task``: TyDiQA-GoldP, all languages in one table, the language is the id prefix
  (``arabic-...`` -> ar). The Hub ``train`` holds every language; its ``validation`` (GoldP dev) becomes our
  ``test``, as in XTREME and the paper (TyDiQA has no public test set). So QA languages have no validation.
- xnli ``facebook/xnli`` (default): config ``<lang>``; train/validation/test. Only English train is human
  data (the other languages' train is machine-translated MNLI); the authors draw target shots from the
  target validation split, and :func:`hf_mixtrain.data.assemble` does the same.
"""

import logging

from datasets import DatasetDict

from .errors import DataError
from .languages import (PANX_LANGUAGES, TYDIQA_PREFIXES, UDPOS_HUB_MIXED, UDPOS_HUB_WARNINGS, UDPOS_NAMES,
                        WIKIANN_LANGUAGES, XNLI_LANGUAGES, check_hub_language)
from .schema import canonicalize, collect_label_names

logger = logging.getLogger(__name__)

# task -> sources; the first is the default.
HUB_SOURCES = {
    "ner": ("unimelb-nlp/wikiann", "google/xtreme"),
    "pos": ("google/xtreme",),
    "qa": ("google/xtreme", "google-research-datasets/tydiqa"),
    "xnli": ("facebook/xnli",),
}
SHORT_NAMES = {"wikiann": "unimelb-nlp/wikiann", "xtreme": "google/xtreme", "pan-x": "google/xtreme",
               "udpos": "google/xtreme", "tydiqa": "google-research-datasets/tydiqa", "xnli": "facebook/xnli"}
TYDIQA_LANGUAGES = sorted(TYDIQA_PREFIXES.values())
TYDIQA_NAMES = {code: name for name, code in TYDIQA_PREFIXES.items()}


def load_hub_dataset(path: str, name: str = None, **kwargs) -> DatasetDict:
    """The one place that reaches the Hub: ``datasets.load_dataset(path, name, **kwargs)``.

    Tests replace this function to serve in-memory data in the Hub schemas.
    """
    import datasets

    return datasets.load_dataset(path, name, **kwargs)


def resolve_source(task: str, hub_dataset: str = None) -> str:
    """The Hub repository for ``task``: ``hub_dataset`` (full id or short name) or the task's default."""
    if hub_dataset is None:
        return HUB_SOURCES[task][0]
    source = SHORT_NAMES.get(hub_dataset.lower(), hub_dataset)
    if source not in HUB_SOURCES[task]:
        raise DataError(
            f"hub_dataset {hub_dataset!r} is not a known source for task {task!r}; choose one of "
            f"{list(HUB_SOURCES[task])}, or put other data in files and pass data_dir="
        )
    return source


def hub_languages(task: str, hub_dataset: str = None) -> list:
    """Language codes that ``hub_dataset`` (default: the task's default source) has for ``task`` and we load."""
    source = resolve_source(task, hub_dataset)
    if task == "ner":
        return list(WIKIANN_LANGUAGES if source == "unimelb-nlp/wikiann" else PANX_LANGUAGES)
    if task == "pos":
        return sorted(set(UDPOS_NAMES) - set(UDPOS_HUB_MIXED))
    if task == "qa":
        return list(TYDIQA_LANGUAGES)
    return list(XNLI_LANGUAGES)


def hub_config(task: str, source: str, lang: str) -> str:
    """The Hub config name holding `lang` for `task` in `source` (e.g. "PAN-X.de", "udpos.German")."""
    if task == "ner":
        return lang if source == "unimelb-nlp/wikiann" else f"PAN-X.{lang}"
    if task == "pos":
        return f"udpos.{UDPOS_NAMES[lang]}"
    if task == "qa":
        return "tydiqa" if source == "google/xtreme" else "secondary_task"
    return lang


def _tydiqa_language(raw: DatasetDict, lang: str) -> dict:
    """One language's rows (by id prefix); GoldP dev ("validation") becomes "test"."""
    prefix = TYDIQA_NAMES[lang]
    out = {}
    for split, ds in raw.items():
        prefixes = [i.split("-", 1)[0] for i in ds["id"]]
        keep = [i for i, p in enumerate(prefixes) if p == prefix]
        unknown = sum(p not in TYDIQA_PREFIXES for p in prefixes)
        if unknown:
            logger.warning("TyDiQA %s: %d row(s) with an id prefix that names no known language", split, unknown)
        target = "test" if split == "validation" else split
        if not keep:
            logger.info("TyDiQA %s: no %r rows; language %r has no %s split", split, prefix, lang, target)
            continue
        out[target] = ds.select(keep)
    if "validation" in raw:
        logger.info("TyDiQA-GoldP: the Hub 'validation' split (GoldP dev) is used as the test split, as in XTREME")
    return out


def load_hub(task: str, lang: str, hub_dataset: str = None, *, label_names=None, **load_kwargs) -> DatasetDict:
    """Load ``lang`` for ``task`` from the Hub and convert it to the canonical schema.

    ClassLabel names are kept (NER ``ner_tags`` and POS ``pos_tags`` become ``tags``). ``load_kwargs`` go to
    ``datasets.load_dataset`` (e.g. ``cache_dir``, ``revision``).
    """
    source = resolve_source(task, hub_dataset)
    check_hub_language(task, lang, hub_languages(task, source), source)
    config = hub_config(task, source, lang)
    if task == "pos" and lang in UDPOS_HUB_WARNINGS:
        logger.warning(UDPOS_HUB_WARNINGS[lang])
    try:
        raw = load_hub_dataset(source, config, **load_kwargs)
    except DataError:
        raise
    except Exception as err:
        raise DataError(
            f"could not load {source} config {config!r} from the Hub ({type(err).__name__}: {err}). Without Hub "
            f"access, put the data in files and pass data_dir= (layout: see hf_mixtrain.data)"
        ) from err
    splits = _tydiqa_language(raw, lang) if task == "qa" else dict(raw)
    splits = {split: splits[split] for split in ("train", "validation", "test") if split in splits}
    if not splits:
        raise DataError(f"{source} config {config!r} has no train, validation or test rows for {lang!r}")
    names = collect_label_names(task, splits.values(), label_names, where=f"{source} {config}")
    out = DatasetDict({split: canonicalize(task, ds, lang, label_names=names, where=f"{source} {config} {split}")
                       for split, ds in splits.items()})
    logger.info("language %r from %s %s: %s", lang, source, config, ", ".join(f"{s} {len(d)}" for s, d in out.items()))
    return out
