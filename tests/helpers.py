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
    vocab = SPECIALS + WORDS + chars + ["##" + c for c in string.ascii_lowercase + string.digits]
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
