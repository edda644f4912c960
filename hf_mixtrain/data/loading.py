"""One entry point per language (local files or the Hub), and several languages with one label set."""

import logging

from datasets import DatasetDict

from .hub import load_hub
from .languages import check_task
from .local import load_local
from .schema import harmonize_labels

logger = logging.getLogger(__name__)


def load_language(task: str, lang: str, *, data_dir=None, hub_dataset: str = None, label_names=None,
                  cache_dir: str = None) -> DatasetDict:
    """Load one language of ``task`` ("ner", "pos", "qa", "xnli") as a DatasetDict in the canonical schema.

    Args:
        task: the task name; "xnli" also takes single-sentence classification data (no ``hypothesis``).
        lang: language code. From the Hub it must be one the source has (the error lists them); local files
            may use any code.
        data_dir: read ``data_dir/<lang>/`` (layout in :mod:`hf_mixtrain.data`) instead of the Hub.
        hub_dataset: which Hub source (see :mod:`hf_mixtrain.data.hub`); default per task.
        label_names: the label set and order to use (tags or classes); default: the data's ClassLabel names,
            else a known set (WikiANN, UPOS, universal tags, XNLI) that holds every label seen, else the sorted
            labels seen.
        cache_dir: passed to ``datasets.load_dataset``.
    """
    check_task(task)
    if data_dir is not None:
        if hub_dataset is not None:
            logger.info("data_dir is given: hub_dataset=%r is not used", hub_dataset)
        return load_local(task, lang, data_dir, label_names=label_names)
    kwargs = {} if cache_dir is None else {"cache_dir": cache_dir}
    return load_hub(task, lang, hub_dataset, label_names=label_names, **kwargs)


def load_languages(task: str, languages, **kwargs) -> dict:
    """Load several languages (``load_language`` arguments apply to each) into ``{lang: DatasetDict}``.

    Checks that all languages share one label set (the error names each language's extra and missing labels)
    and re-orders labels to the first language's order where only the order differs.
    """
    if isinstance(languages, str):
        languages = languages.replace(",", " ").split()
    unique = list(dict.fromkeys(languages))
    if len(unique) < len(languages):
        logger.info("duplicate language codes ignored: %s", languages)
    data = {lang: load_language(task, lang, **kwargs) for lang in unique}
    return harmonize_labels(task, data)
