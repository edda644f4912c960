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

# google/xtreme "udpos.<LanguageName>" configs: UD v2.5, read by the Hub's loading script.
UDPOS_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "eu": "Basque", "bg": "Bulgarian", "nl": "Dutch", "en": "English",
    "et": "Estonian", "fi": "Finnish", "fr": "French", "de": "German", "el": "Greek", "he": "Hebrew",
    "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh",
    "ko": "Korean", "zh": "Chinese", "mr": "Marathi", "fa": "Persian", "pt": "Portuguese", "ru": "Russian",
    "es": "Spanish", "tl": "Tagalog", "ta": "Tamil", "te": "Telugu", "th": "Thai", "tr": "Turkish",
    "ur": "Urdu", "vi": "Vietnamese", "yo": "Yoruba",
}
# In the authors' POS list but not among google/xtreme's udpos configs: local CoNLL-U files from UD v2.7 (the
# release the authors downloaded for all 35 languages).
UDPOS_LOCAL_ONLY = {"lt": "Lithuanian", "pl": "Polish", "uk": "Ukrainian", "wo": "Wolof", "ro": "Romanian"}
# google/xtreme udpos configs that also hold another language. Its loading script keeps every UD v2.5 treebank
# folder whose name contains "_<Name>", so "_Greek" takes in UD_Ancient_Greek-*; the rows carry no treebank id to
# separate them (udpos.Greek train: 28152 sentences = Greek-GDT 1662 + Ancient Greek PROIEL 15014 + Perseus
# 11476). The authors took a language's "<code>_" files only. Refused from the Hub: these need local files.
UDPOS_HUB_MIXED = {  # code: (what else the config holds, the treebanks of the code's "<code>_" files)
    "el": ("Ancient Greek (UD_Ancient_Greek-PROIEL and -Perseus: 94% of its train sentences)", "UD_Greek-GDT"),
    "fr": ("Old French (UD_Old_French-SRCMF)", "UD_French-*"),
    "ru": ("Old Russian (UD_Old_Russian-*)", "UD_Russian-*"),
    "zh": ("Classical Chinese (UD_Classical_Chinese-Kyoto)", "UD_Chinese-*"),
}
# The same rule puts Swiss German (UD_Swiss_German-UZH, 100 sentences) into udpos.German's test split: loaded,
# with a warning.
UDPOS_HUB_WARNINGS = {
    "de": "google/xtreme udpos.German's test split also holds the 100 Swiss German sentences of "
          "UD_Swiss_German-UZH (the authors used de_ files only); for their test set put UD v2.7's de_*.conllu "
          "files in data_dir/de/",
}

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


def local_ud_fix(lang: str, treebanks: str = None) -> str:
    """How to give ``lang`` POS data from local files, as the authors had it."""
    where = f" ({treebanks})" if treebanks else ""
    return (f"Fix: put the {lang}_*.conllu files{where} of UD v2.7, the release the authors used, in "
            f"data_dir/{lang}/ and pass data_dir= (languages without a folder there still come from the Hub)")


def check_hub_language(task: str, lang: str, valid, source: str) -> None:
    """Raise if ``lang`` is not a code that Hub ``source`` has for ``task``; the message lists the valid ones.

    POS languages that google/xtreme lacks, or holds mixed with another language, get the local fix instead.
    """
    if task == "pos" and lang in UDPOS_LOCAL_ONLY:
        raise DataError(f"google/xtreme has no udpos config for {lang!r} ({UDPOS_LOCAL_ONLY[lang]}). "
                        f"{local_ud_fix(lang)}")
    if task == "pos" and lang in UDPOS_HUB_MIXED:
        other, treebanks = UDPOS_HUB_MIXED[lang]
        raise DataError(
            f"google/xtreme udpos.{UDPOS_NAMES[lang]} is not used for {lang!r}: besides {treebanks} it holds "
            f"{other}, because the Hub's loading script keeps every UD folder whose name contains "
            f"'_{UDPOS_NAMES[lang]}', and its rows carry no treebank id to tell them apart. "
            f"{local_ud_fix(lang, treebanks)}"
        )
    if lang in valid:
        return
    raise DataError(
        f"unknown language code {lang!r} for task {task!r} from the Hub dataset {source}; valid codes: "
        f"{' '.join(sorted(valid))}. Local files under data_dir/<code>/ may use any code."
    )
