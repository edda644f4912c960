"""Task names, the paper's language presets, and which language codes each Hub source knows.

Codes are the ISO 639-1 style codes of the paper's lists. Only Hub loading is restricted to these tables:
local files under ``data_dir`` may use any code.
"""

from .errors import DataError

TASKS = ("ner", "pos", "qa", "xnli")

# Exactly the lists in the authors' scripts (Xu & Murray 2022), in their order.
PAPER_LANGUAGES = {
    "ner": (
        "ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw yo my "
        "zh kk tr et fi hu qu pl uk az lt pa gu ro"
    ).split(),
    "pos": (
        "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te tr ur vi zh lt pl uk wo ro"
    ).split(),
    "qa": "en ar bn fi id ko ru sw te".split(),
    "xnli": "en fr es de el bg ru tr ar vi th zh hi sw ur".split(),
}

# unimelb-nlp/wikiann: one config per language (Rahimi et al. 2019 balanced splits, 176 languages).
WIKIANN_LANGUAGES = (
    "ace af als am an ang ar arc arz as ast ay az ba bar bat-smg be be-x-old bg bh bn bo br bs ca cbk-zam cdo ce "
    "ceb ckb co crh cs csb cv cy da de diq dv el eml en eo es et eu ext fa fi fiu-vro fo fr frr fur fy ga gan gd "
    "gl gn gu hak he hi hr hsb hu hy ia id ig ilo io is it ja jbo jv ka kk km kn ko ksh ku ky la lb li lij lmo ln "
    "lt lv map-bms mg mhr mi min mk ml mn mr ms mt mwl my mzn nap nds ne nl nn no nov oc or os pa pdc pl pms pnb "
    "ps pt qu rm ro ru rw sa sah scn sco sd sh si simple sk sl so sq sr su sv sw szl ta te tg th tk tl tr tt ug "
    "uk ur uz vec vep vi vls vo wa war wuu xmf yi yo zea zh zh-classical zh-min-nan zh-yue"
).split()

# google/xtreme "PAN-X.<lang>" configs (the 40 XTREME NER languages).
PANX_LANGUAGES = (
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te th tl tr "
    "ur vi yo zh"
).split()

# google/xtreme "udpos.<LanguageName>" configs (UD v2.5 as prepared by XTREME).
UDPOS_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "eu": "Basque", "bg": "Bulgarian", "nl": "Dutch", "en": "English",
    "et": "Estonian", "fi": "Finnish", "fr": "French", "de": "German", "el": "Greek", "he": "Hebrew",
    "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh",
    "ko": "Korean", "zh": "Chinese", "mr": "Marathi", "fa": "Persian", "pt": "Portuguese", "ru": "Russian",
    "es": "Spanish", "tl": "Tagalog", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tr": "Turkish",
    "ur": "Urdu", "vi": "Vietnamese", "yo": "Yoruba",
}
# In the authors' POS list but not among google/xtreme's udpos configs (they came with XTREME-R's UD data):
# these need local CoNLL-U files from the UD release.
UDPOS_LOCAL_ONLY = {"lt": "Lithuanian", "pl": "Polish", "uk": "Ukrainian", "wo": "Wolof", "ro": "Romanian"}

# TyDiQA-GoldP ids start with the language name ("arabic-2387335860751143628-1").
TYDIQA_PREFIXES = {
    "arabic": "ar", "bengali": "bn", "english": "en", "finnish": "fi", "indonesian": "id", "korean": "ko",
    "russian": "ru", "swahili": "sw", "telugu": "te",
}

# facebook/xnli per-language configs.
XNLI_LANGUAGES = "ar bg de el en es fr hi ru sw th tr ur vi zh".split()


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise naming the valid tasks."""
    if task not in TASKS:
        raise DataError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def check_hub_language(task: str, lang: str, valid, source: str) -> None:
    """Raise if ``lang`` is not a code that Hub ``source`` has for ``task``; the message lists the valid ones."""
    if lang in valid:
        return
    if task == "pos" and lang in UDPOS_LOCAL_ONLY:
        raise DataError(
            f"google/xtreme has no udpos config for {lang!r} ({UDPOS_LOCAL_ONLY[lang]}); the authors took it from "
            f"the UD v2.5 release. Download that treebank and put its .conllu files under "
            f"data_dir/{lang}/ (train.conllu, dev.conllu, test.conllu), then pass data_dir=."
        )
    raise DataError(
        f"unknown language code {lang!r} for task {task!r} from the Hub dataset {source}; valid codes: "
        f"{' '.join(sorted(valid))}. Local files under data_dir/<code>/ may use any code."
    )
