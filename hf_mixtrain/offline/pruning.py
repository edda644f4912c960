"""Shrink a SentencePiece-Unigram (XLM-R style) model's vocabulary to the pieces some texts actually use.

Why it is exact on those texts: the Unigram tokenizer picks the highest-scoring segmentation (Viterbi). Every
piece of the full tokenizer's best segmentation is kept with its score, so that segmentation is still available.
Any other segmentation the pruned tokenizer can build was available to the full one too, except ``<unk>`` nodes
for characters whose single-character piece was dropped; those score ``min(score) - 10`` (the unknown penalty),
below any real piece, and keeping the lowest-scoring piece keeps that penalty unchanged. So the best segmentation
is the same. Embedding rows are sliced in the same order, so the model computes the same hidden states.
Other text is tokenised differently (more pieces, more ``<unk>``): a pruned model is for the texts it was pruned to.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

logger = logging.getLogger(__name__)


def _encode_batch(tokenizer, texts: list) -> list:
    """``tokenizers.Encoding``s without special tokens, in order; word lists are encoded as pre-tokenised input."""
    if not texts:
        return []
    split = not isinstance(texts[0], str)
    if any(isinstance(t, str) == split for t in texts):
        raise ValueError("texts must be all strings or all lists of words, not a mix")
    backend = tokenizer.backend_tokenizer
    # A transformers call with truncation/padding leaves them set on the backend; every piece must count here.
    backend.no_truncation()
    backend.no_padding()
    return backend.encode_batch([list(t) for t in texts] if split else texts, is_pretokenized=split,
                                add_special_tokens=False)


def used_piece_ids(tokenizer, texts: Iterable[str | Sequence[str]]) -> set[int]:
    """Ids the tokenizer produces for ``texts`` (strings, or lists of words tokenised as pre-split input)."""
    used: set[int] = set()
    for enc in _encode_batch(tokenizer, list(texts)):
        used.update(enc.ids)
    return used


def coverage(tokenizer, texts: list, max_pieces: int = 126) -> dict:
    """How a tokenizer covers ``texts``: pieces, ``<unk>`` pieces and their share, and texts longer than ``max_pieces``.

    ``max_pieces`` defaults to what a 128-token window holds besides ``<s>`` and ``</s>``: longer texts get cut.
    """
    encodings = _encode_batch(tokenizer, texts)
    lengths = [len(enc.ids) for enc in encodings]
    pieces = sum(lengths)
    unk = sum(enc.ids.count(tokenizer.unk_token_id) for enc in encodings)
    return {
        "texts": len(texts),
        "pieces": pieces,
        "max_pieces": max(lengths, default=0),
        "unk_pieces": unk,
        "unk_share": unk / pieces if pieces else 0.0,
        f"texts_over_{max_pieces}_pieces": sum(n > max_pieces for n in lengths),
    }


def pruned_tokenizer_json(tokenizer_json: dict, keep: list[int]) -> dict:
    """A copy of a Unigram ``tokenizer.json`` with only the pieces ``keep`` (sorted old ids), ids renumbered."""
    model = tokenizer_json["model"]
    if model.get("type") != "Unigram":
        raise ValueError(f"vocabulary pruning supports Unigram tokenizers, got {model.get('type')!r}")
    new_id = {old: new for new, old in enumerate(keep)}
    out = copy.deepcopy(tokenizer_json)
    out["model"]["vocab"] = [model["vocab"][old] for old in keep]
    if model.get("unk_id") is not None:
        out["model"]["unk_id"] = new_id[model["unk_id"]]
    for tok in out.get("added_tokens", []):
        tok["id"] = new_id[tok["id"]]
    post = out.get("post_processor")
    processors = post.get("processors", [post]) if post else []
    for proc in processors:
        for special in (proc.get("special_tokens") or {}).values():
            special["ids"] = [new_id[i] for i in special["ids"]]
        for key in ("sep", "cls"):  # RobertaProcessing / BertProcessing store [token, id]
            if key in proc:
                proc[key] = [proc[key][0], new_id[proc[key][1]]]
    return out


def prune_model_dir(
    model_dir: str | Path,
    out_dir: str | Path,
    texts: Iterable[str | Sequence[str]],
    n_hidden_checks: int = 32,
) -> dict:
    """Write to ``out_dir`` a copy of the BertModel checkpoint in ``model_dir`` restricted to the pieces ``texts`` use.

    ``texts`` are all strings, or all lists of words (tokenised with ``is_split_into_words=True``, as token
    classification does). Kept: every id the tokenizer produces for them, the special tokens (incl. ``<unk>``), and the
    lowest-scoring piece (keeps the unknown-character penalty). Then verifies that the pruned tokenizer yields the
    same token strings on every text, and the pruned model the same last hidden states (allclose) on
    ``n_hidden_checks`` texts spread over the list; raises ValueError otherwise. Returns sizes for the record.
    """
    from transformers import AutoTokenizer, BertModel

    model_dir, out_dir = Path(model_dir), Path(out_dir)
    texts = list(texts)
    # Load tokenizers the way task scripts do (AutoTokenizer.from_pretrained): transformers 5 rebuilds the XLM-R
    # pipeline from the vocabulary, so this, not the raw tokenizer.json, is what must agree.
    tokenizer = _load_tokenizer(str(model_dir), (model_dir / "tokenizer.json").stat().st_mtime_ns)
    tok_json = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tok_json["model"]["vocab"]
    keep = used_piece_ids(tokenizer, texts)
    keep.update(tokenizer.all_special_ids)
    keep.add(min(range(len(vocab)), key=lambda i: vocab[i][1]))
    keep = sorted(keep)
    logger.info("pruning vocabulary: keeping %d of %d pieces", len(keep), len(vocab))

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(
        json.dumps(pruned_tokenizer_json(tok_json, keep), ensure_ascii=False), encoding="utf-8"
    )
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (model_dir / name).exists():
            shutil.copyfile(model_dir / name, out_dir / name)
    pruned_tok = AutoTokenizer.from_pretrained(out_dir)
    new_id = {o: n for n, o in enumerate(keep)}
    for token, old in zip(tokenizer.all_special_tokens, tokenizer.all_special_ids):
        if pruned_tok.convert_tokens_to_ids(token) != new_id[old]:
            raise ValueError(f"special token {token!r} has id {pruned_tok.convert_tokens_to_ids(token)} after "
                             f"pruning, expected {new_id[old]}: the tokenizer class fixes special ids; keep them")
    _check_same_tokens(tokenizer, pruned_tok, texts, new_id)

    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    sample = texts[:: max(1, len(texts) // n_hidden_checks)][:n_hidden_checks]
    full_hidden = _hidden(model, tokenizer, sample)
    old = model.get_input_embeddings().weight.data
    model.set_input_embeddings(torch.nn.Embedding.from_pretrained(old[torch.tensor(keep)].clone(), freeze=False))
    model.config.vocab_size = len(keep)
    for attr in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if getattr(model.config, attr, None) is not None:
            setattr(model.config, attr, new_id[getattr(model.config, attr)])
    for n, (a, b) in enumerate(zip(full_hidden, _hidden(model, pruned_tok, sample))):
        if not torch.allclose(a, b, atol=1e-5, rtol=1e-4):
            err = (a - b).abs().max().item()
            raise ValueError(f"pruned model's hidden states differ (max abs diff {err:.3g}) on {sample[n]!r}")
    model.save_pretrained(out_dir)
    return {
        "kept_pieces": len(keep),
        "full_pieces": len(vocab),
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "texts": len(texts),
        "hidden_state_checks": len(sample),
    }


def _check_same_tokens(full_tok, pruned_tok, texts: list, new_id: dict[int, int]) -> None:
    # Compare ids, not Encoding.tokens: an <unk> token carries the surface text there, so "b" as a piece and "b"
    # as <unk> would look the same.
    for text, a, b in zip(texts, _encode_batch(full_tok, texts), _encode_batch(pruned_tok, texts)):
        if [new_id.get(i) for i in a.ids] != b.ids:
            got, want = pruned_tok.convert_ids_to_tokens(b.ids), full_tok.convert_ids_to_tokens(a.ids)
            raise ValueError(f"pruned tokenizer splits {text!r} differently: {got} instead of {want}")


@functools.lru_cache(maxsize=1)
def _load_tokenizer(path: str, mtime_ns: int):
    # Rebuilding the 250k-piece XLM-R tokenizer takes seconds; a build prunes once per benchmark from the same one.
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


@torch.no_grad()
def _hidden(model, tokenizer, texts: list, max_length: int = 128) -> list[torch.Tensor]:
    """Last hidden states of each text (one padded batch), without the padding positions."""
    if not texts:
        return []
    split = not isinstance(texts[0], str)
    enc = tokenizer([list(t) for t in texts] if split else texts, is_split_into_words=split, truncation=True,
                    max_length=min(max_length, model.config.max_position_embeddings), padding=True,
                    return_tensors="pt")
    hidden = model(**enc).last_hidden_state
    return [h[m.bool()] for h, m in zip(hidden, enc["attention_mask"])]
