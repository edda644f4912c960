"""Tiny tokenizers and models built from configs, so tests never touch the Hub."""

import string

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, PreTrainedTokenizerFast

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "in", "of", "and", "is", "was", "to", "paris", "berlin", "john", "smith", "new", "york"]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A WordPiece tokenizer over letters, digits, punctuation and a few whole words.

    Unknown words split into single characters ("##x" continuations), so multi-piece words, accents (stripped)
    and offsets behave as with a real subword tokenizer.
    """
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    # dict.fromkeys: "a" is a word and a letter; a duplicate would leave an id past len(tokenizer).
    vocab = list(dict.fromkeys(SPECIALS + WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]))
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def tiny_config(vocab_size: int = 128, dropout: float = 0.0, **kwargs) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        **kwargs,
    )


def synthetic_token_data(n, lang_id=0, seq_len=8, vocab_size=64, num_labels=3, seed=0, label_shift=0):
    """Tokenised token-classification rows with a learnable rule: label = (token id + label_shift) % num_labels.

    Languages with different `label_shift` disagree about every token, so their gradients conflict.
    All rows have the same length and every token is labelled, so a mean over a batch of 2b equals the mean
    of two batches of b (what the accumulation tests need).
    """
    import numpy as np
    from datasets import Dataset

    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(n, seq_len))
    return Dataset.from_dict(
        {
            "input_ids": ids.tolist(),
            "attention_mask": np.ones_like(ids).tolist(),
            "labels": ((ids + label_shift) % num_labels).tolist(),
            "lang_id": [lang_id] * n,
        }
    )


def tiny_token_model(seed=0, dropout=0.0, num_labels=3, vocab_size=64):
    import torch
    from transformers import BertForTokenClassification

    torch.manual_seed(seed)
    return BertForTokenClassification(tiny_config(vocab_size=vocab_size, dropout=dropout, num_labels=num_labels))


def assert_label_maps(config, label_names):
    """Assert a saved model config maps ids 0..n-1 to `label_names` (id2label) and back (label2id).

    `config` is a config.json dict, or a directory or file path holding one. Pipelines print these names, so a
    model built without id2label/label2id (default LABEL_0, LABEL_1, ...) fails here.
    """
    import json
    import os

    if not isinstance(config, dict):
        path = os.path.join(config, "config.json") if os.path.isdir(config) else config
        with open(path) as f:
            config = json.load(f)
    expected = {str(i): name for i, name in enumerate(label_names)}
    assert config.get("id2label") == expected, f"id2label {config.get('id2label')} != {expected}"
    assert config.get("label2id") == {name: i for i, name in enumerate(label_names)}, f"label2id {config.get('label2id')}"
