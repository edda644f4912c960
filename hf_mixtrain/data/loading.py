"""One entry point per language (a local folder or the Hub), and several languages with one label set.

Where each language comes from: with ``data_dir``, a language that has a folder there (``data_dir/<lang>/``) is read
from it, and every other language from the Hub; without ``data_dir``, all come from the Hub. Each choice is logged,
and :func:`load_languages` records it in ``sources``.
"""

import logging
from pathlib import Path

from datasets import DatasetDict

from .errors import DataError
from .hub import hub_config, hub_languages, load_hub, resolve_source
from .languages import check_hub_language, check_task
from .local import TOKEN_FORMS, language_folder, load_local
from .schema import harmonize_labels

logger = logging.getLogger(__name__)


class LanguageData(dict):
    """``{lang: DatasetDict}`` as :func:`load_languages` returns it, with ``sources``: ``{lang: where from}``.

    A source is ``{"source": "local", "path": folder}`` or ``{"source": "hub", "dataset": repo id, "config": name}``
    (JSON-ready, for results and model cards).
    """

    def __init__(self, data: dict, sources: dict):
        super().__init__(data)
        self.sources = sources


def check_languages(task: str, languages, *, data_dir=None, hub_dataset: str = None) -> None:
    """Raise before anything is read if a language has no folder under ``data_dir`` and is not one the Hub
    source has for ``task``; the message lists the valid codes (and the folders found). Reads no data."""
    check_task(task)
    source = resolve_source(task, hub_dataset)
    valid = hub_languages(task, hub_dataset)
    found = []
    if data_dir is not None and Path(data_dir).is_dir():
        found = sorted(p.name for p in Path(data_dir).iterdir() if p.is_dir())
    for lang in languages:
        if data_dir is not None and language_folder(data_dir, lang) is not None:
            continue
        try:
            check_hub_language(task, lang, valid, source)
        except DataError as err:
            where = f" No folder {Path(data_dir) / lang} either (language folders there: {found})." if data_dir else ""
            raise DataError(f"{err}{where}") from None


def _load(task, lang, *, data_dir=None, hub_dataset=None, label_names=None, cache_dir=None, ud_token_form="words"):
    """(DatasetDict, source) of one language: its local folder if ``data_dir`` has one, else the Hub."""
    check_task(task)
    if ud_token_form not in TOKEN_FORMS:
        raise DataError(f"ud_token_form={ud_token_form!r}; choose one of {', '.join(TOKEN_FORMS)}")
    folder = language_folder(data_dir, lang) if data_dir is not None else None
    if folder is not None:
        data = load_local(task, lang, folder, label_names=label_names, ud_token_form=ud_token_form)
        return data, {"source": "local", "path": str(folder)}
    if data_dir is not None:
        logger.info("language %r: no folder %s, so it comes from the Hub", lang, Path(data_dir) / lang)
    kwargs = {} if cache_dir is None else {"cache_dir": cache_dir}
    try:
        if task == "pos" and ud_token_form != "words":
            raise DataError(f"ud_token_form={ud_token_form!r} reads local CoNLL-U files, and the Hub's udpos rows "
                            f"hold UD's syntactic words only. Fix: put the {lang}_*.conllu files of UD v2.7 in "
                            f"data_dir/{lang}/, or use ud_token_form='words'")
        data = load_hub(task, lang, hub_dataset, label_names=label_names, **kwargs)
    except DataError as err:
        if data_dir is None:
            raise
        found = sorted(p.name for p in Path(data_dir).iterdir() if p.is_dir())
        raise DataError(f"language {lang!r}: no folder {Path(data_dir) / lang} (language folders there: {found}), "
                        f"and from the Hub: {err}") from err
    source = resolve_source(task, hub_dataset)
    return data, {"source": "hub", "dataset": source, "config": hub_config(task, source, lang)}


def load_language(task: str, lang: str, *, data_dir=None, hub_dataset: str = None, label_names=None,
                  cache_dir: str = None, ud_token_form: str = "words") -> DatasetDict:
    """Load one language of ``task`` ("ner", "pos", "qa", "xnli") as a DatasetDict in the canonical schema.

    Args:
        task: the task name; "xnli" also takes single-sentence classification data (no ``hypothesis``).
        lang: language code. From the Hub it must be one the source has (the error lists them); local files
            may use any code.
        data_dir: a folder of language folders (layout in :mod:`hf_mixtrain.data`). ``data_dir/<lang>/`` is read
            when it exists; otherwise the language comes from the Hub.
        hub_dataset: which Hub source (see :mod:`hf_mixtrain.data.hub`); default per task.
        label_names: the label set and order to use (tags or classes); default: the data's ClassLabel names,
            else a known set (WikiANN, UPOS, universal tags, XNLI) that holds every label seen, else the sorted
            labels seen.
        cache_dir: passed to ``datasets.load_dataset``.
        ud_token_form: POS from local .conllu files: "words" (default), UD's syntactic words, as google/xtreme's
            udpos rows have them; or "fused", the authors' tokens: a multiword token as its surface form, tagged
            like its head word (see :func:`hf_mixtrain.data.local.read_conllu`). "fused" needs every POS language
            local.
    """
    return _load(task, lang, data_dir=data_dir, hub_dataset=hub_dataset, label_names=label_names,
                 cache_dir=cache_dir, ud_token_form=ud_token_form)[0]


def load_languages(task: str, languages, **kwargs) -> LanguageData:
    """Load several languages (``load_language`` arguments apply to each) into ``{lang: DatasetDict}``.

    Checks that all languages share one label set (the error names each language's extra and missing labels)
    and re-orders labels to the first language's order where only the order differs. The result's ``sources``
    says where each language came from (see :class:`LanguageData`).
    """
    if isinstance(languages, str):
        languages = languages.replace(",", " ").split()
    unique = list(dict.fromkeys(languages))
    if len(unique) < len(languages):
        logger.info("duplicate language codes ignored: %s", languages)
    data, sources = {}, {}
    for lang in unique:
        data[lang], sources[lang] = _load(task, lang, **kwargs)
    for kind in ("local", "hub"):
        langs = [lang for lang, source in sources.items() if source["source"] == kind]
        if langs:
            logger.info("%s: %d language(s) from %s: %s", task, len(langs),
                        "local folders" if kind == "local" else "the Hub", " ".join(langs))
    return LanguageData(harmonize_labels(task, data), sources)
