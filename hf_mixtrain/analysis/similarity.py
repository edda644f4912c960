"""Per-language gradient similarity at a checkpoint, on the oracle pools, and the paper-style heatmap.

The matrix. For a model checkpoint and each language l, g_l is the gradient, over all trainable parameters
(frozen ones, e.g. `--freeze_embeddings`, take no part), of the loss on l's oracle pool: a target's pool is its
K-shot set (drawn exactly as the training run drew it: same task, data, K, seed); the source's pool is a seeded
sample of its tokenised train set with as many rows as the largest target pool (`source_rows` to change it). The
pool is passed in batches of `batch_size` rows and g_l is the row-weighted mean of the batch-mean-loss gradients,
so with a pool no larger than a batch (K-shot sets) g_l is exactly the oracle gradient gradient-mix projects
against. The model is in eval mode (no dropout), so the matrix is deterministic. Entry (i, j) is
cos(g_i, g_j) = g_i.g_j / (|g_i| |g_j|): symmetric, ones on the diagonal.

"Before and after surgery". Projecting one language's gradient against another, g_i' = g_i - min(0, g_i.g_j /
|g_j|^2) g_j, gives cos(g_i', g_j) >= 0 by construction: a matrix of such values only restates the formula. What
this module compares instead is the matrix at two checkpoints trained on the same data, seed and K: the
naive-mix model ("before": trained without surgery) and the gradient-mix model ("after": trained with stochastic
surgery), via `compare_model_name_or_path`. It shows whether training with surgery leaves the languages' gradients
less in conflict where the model ends up; it does not show the surgery's effect on a single step (the conflict
dynamics in `hf_mixtrain.analysis.dynamics` do that, from the run's own surgery log).

Memory. The L flattened gradients are never held together: each g_l is written as float32 to a temporary file
(`work_dir`, default the system's temporary folder; L x P x 4 bytes on disk for P trainable parameters, deleted
afterwards), and its dot products with the stored ones are summed chunk by chunk in float64 on the CPU. Peak RAM
beyond the model and its `.grad` is one parameter tensor's gradient copied to the CPU at a time, and two float64
chunks of `chunk_size` elements (2 x 32 MiB by default); the files are read through memory maps.
"""

from __future__ import annotations

import inspect
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..files import pyplot, save_figure, write_csv, write_json

logger = logging.getLogger(__name__)

LABEL_COLUMNS = ("labels", "label", "label_ids", "start_positions", "end_positions")


@dataclass
class SimilarityResult:
    """A cosine matrix and what it was computed from."""

    languages: list
    cosine: np.ndarray  # (L, L), symmetric, unit diagonal
    gram: np.ndarray  # (L, L) float64 dot products g_i.g_j
    pool_rows: dict  # language -> rows in its pool
    checkpoint: str = ""

    def summary(self, groups: Optional[dict] = None) -> dict:
        """Mean off-diagonal cosine, the share and list of conflicting (negative) pairs, and with `groups`
        ({name: [lang, ...]}) the mean cosine within each group and between each two (`group_means`)."""
        n = len(self.languages)
        upper = [(i, j) for i in range(n) for j in range(i + 1, n)]
        values = [float(self.cosine[i, j]) for i, j in upper]
        negative = [f"{self.languages[i]}-{self.languages[j]}" for (i, j), v in zip(upper, values) if v < 0]
        summary = dict(
            checkpoint=self.checkpoint, languages=self.languages, pool_rows=self.pool_rows,
            mean_off_diagonal=float(np.mean(values)) if values else None,
            negative_pairs=len(negative), pairs=len(values),
            negative_share=len(negative) / len(values) if values else None, conflicting=negative,
        )
        if groups:
            summary["group_means"] = group_means(self.cosine, self.languages, groups)
        return summary


def check_groups(groups: dict, languages: list) -> None:
    """Refuse a group naming a language the matrix does not have."""
    for name, langs in groups.items():
        unknown = [lang for lang in langs if lang not in languages]
        if unknown:
            raise ValueError(f"group {name!r} names {', '.join(unknown)}, not among the matrix's languages "
                             f"({', '.join(languages)}); name only those.")


def group_means(cosine: np.ndarray, languages: list, groups: dict) -> dict:
    """{"a": mean cos over the pairs within group a, "a x b": over the pairs with one language in each}. A group
    of one language has no pair within it (None); a language in both groups of a cross pair is paired only with
    the others (no diagonal ones)."""
    check_groups(groups, languages)
    index = {lang: i for i, lang in enumerate(languages)}

    def mean(pairs):
        values = [float(cosine[index[a], index[b]]) for a, b in pairs if a != b]
        return float(np.mean(values)) if values else None

    names = list(groups)
    means = {name: mean((a, b) for k, a in enumerate(groups[name]) for b in groups[name][k + 1:]) for name in names}
    for k, first in enumerate(names):
        for second in names[k + 1:]:
            means[f"{first} x {second}"] = mean((a, b) for a in groups[first] for b in groups[second])
    return means


# ---- the matrix ------------------------------------------------------------------------------------------------


def trainable_parameters(model) -> list:
    return [p for p in model.parameters() if p.requires_grad]


def _accumulate_gradient(model, batches: list[dict]) -> None:
    """Leave in `.grad` the row-weighted mean over `batches` of their batch-mean-loss gradients."""
    rows = [len(next(v for v in b.values() if hasattr(v, "shape"))) for b in batches]
    total = sum(rows)
    model.zero_grad(set_to_none=True)
    device = next(model.parameters()).device
    for batch, n in zip(batches, rows):
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
        loss = model(**batch).loss
        (loss * (n / total)).backward()


def gradient_gram(model, batches_by_language: dict, work_dir: Optional[str] = None, chunk_size: int = 2**22):
    """`(languages, gram)`: the float64 matrix of dot products of the languages' gradients (see the module docstring).

    `batches_by_language`: {language: list of collated batches (dicts of tensors with the loss's labels)}.
    """
    params = trainable_parameters(model)
    if not params:
        raise ValueError("The model has no trainable parameters: nothing to take a gradient of.")
    total = sum(p.numel() for p in params)
    languages = list(batches_by_language)
    gram = np.zeros((len(languages), len(languages)), dtype=np.float64)
    model.eval()
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="hf_mixtrain-grads-") as tmp:
        paths = []
        for i, lang in enumerate(languages):
            if not batches_by_language[lang]:
                raise ValueError(f"Language {lang!r} has an empty pool: nothing to take a gradient of.")
            _accumulate_gradient(model, batches_by_language[lang])
            path = os.path.join(tmp, f"{i}.f32")
            stored = np.memmap(path, dtype=np.float32, mode="w+", shape=(total,))
            offset = 0
            for p in params:
                n = p.numel()
                stored[offset : offset + n] = 0.0 if p.grad is None else p.grad.detach().reshape(-1).float().cpu().numpy()
                offset += n
            stored.flush()
            del stored
            paths.append(path)
            mine = np.memmap(path, dtype=np.float32, mode="r", shape=(total,))
            for j in range(i + 1):
                other = mine if j == i else np.memmap(paths[j], dtype=np.float32, mode="r", shape=(total,))
                dot = 0.0
                for start in range(0, total, chunk_size):
                    a = np.asarray(mine[start : start + chunk_size], dtype=np.float64)
                    b = a if j == i else np.asarray(other[start : start + chunk_size], dtype=np.float64)
                    dot += float(a @ b)
                gram[i, j] = gram[j, i] = dot
                del other
            del mine
            if gram[i, i] == 0.0:
                raise ValueError(f"The gradient of {lang!r} is zero (no labelled tokens in its pool?); its cosines are undefined.")
        model.zero_grad(set_to_none=True)
    return languages, gram


def cosine_from_gram(gram: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.diag(gram))
    cos = gram / np.outer(norms, norms)
    np.fill_diagonal(cos, 1.0)
    return np.clip(cos, -1.0, 1.0)


def _model_columns(model, dataset) -> list:
    accepted = set(inspect.signature(model.forward).parameters) | set(LABEL_COLUMNS)
    return [c for c in dataset.column_names if c not in accepted]


def pool_batches(model, dataset, collator, batch_size: int) -> list[dict]:
    """A tokenised pool as collated batches holding only what the model's forward takes (lang_id etc. removed)."""
    dataset = dataset.remove_columns(_model_columns(model, dataset))
    rows = [dataset[i] for i in range(len(dataset))]
    return [collator(rows[i : i + batch_size]) for i in range(0, len(rows), batch_size)]


def oracle_pools(exp, source_rows: Optional[int] = None, include_source: bool = True) -> dict:
    """{language: tokenised pool}: the source's seeded train sample (if `include_source`) then each target's K shots."""
    from ..data import sample_rows

    pools = {}
    if include_source:
        n = source_rows or max(len(ds) for ds in exp.shots.values())
        pools[exp.mixed.source] = sample_rows(exp.source_train, n, seed=exp.seed, key=f"similarity-{exp.mixed.source}")
    pools.update(exp.shots)
    return pools


def checkpoint_similarity(
    task: str,
    model_args,
    data_args,
    args,
    *,
    source_rows: Optional[int] = None,
    include_source: bool = True,
    batch_size: int = 32,
    work_dir: Optional[str] = None,
) -> SimilarityResult:
    """The matrix at `model_args.model_name_or_path`, on the oracle pools the data arguments define.

    The arguments are those of the task scripts (`hf_mixtrain.cli.parse_script_args`): give the training run's
    data, K, seed, max_seq_length and freeze_embeddings so the pools and trainable parameters are the run's.
    """
    import dataclasses

    from ..experiment import prepare
    from ..stages import load_model

    # Only the shots and the source train set are needed: keep one test/dev row per language to skip tokenising them.
    data_args = dataclasses.replace(data_args, max_test_samples=1, max_eval_samples=1)
    exp = prepare(task, "naive-mix", model_args, data_args, args)  # any method that draws the K-shot sets
    model = load_model(exp, model_args).to(args.device)
    collator = exp.task.data_collator(exp.tokenizer)
    pools = oracle_pools(exp, source_rows, include_source)
    batches = {lang: pool_batches(model, ds, collator, batch_size) for lang, ds in pools.items()}
    languages, gram = gradient_gram(model, batches, work_dir=work_dir)
    return SimilarityResult(languages, cosine_from_gram(gram), gram, {lang: len(ds) for lang, ds in pools.items()},
                            checkpoint=model_args.model_name_or_path)


# ---- outputs ---------------------------------------------------------------------------------------------------


def cluster_order(cos: np.ndarray) -> list:
    """Leaf order of average-linkage agglomerative clustering on cosine similarity (most similar merged first)."""
    clusters = [[i] for i in range(len(cos))]
    while len(clusters) > 1:
        best, pair = -np.inf, (0, 1)
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                value = cos[np.ix_(clusters[a], clusters[b])].mean()
                if value > best:
                    best, pair = value, (a, b)
        a, b = pair
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    return clusters[0]


def write_matrix_csv(path: str, cos: np.ndarray, languages: list) -> str:
    rows = [{"lang": lang, **{other: float(cos[i, j]) for j, other in enumerate(languages)}} for i, lang in enumerate(languages)]
    return write_csv(path, rows, ["lang"] + list(languages))


def plot_heatmaps(matrices: dict, languages: list, path: str, order: str = "given", title: str = "") -> str:
    """Paper-style heatmaps side by side (one per {label: cosine matrix}), on one colour scale.

    Colour = cosine similarity from 0 to the largest off-diagonal value; conflicting (negative) pairs are white; the
    diagonal (1 by definition) is grey; values are written in the cells up to 12 languages; language codes on both axes, in the given order or (`order="clustered"`) clustered on the first matrix.
    """
    if order not in ("given", "clustered"):
        raise ValueError(f"order={order!r}: choose 'given' or 'clustered'.")
    plt = pyplot()
    first = next(iter(matrices.values()))
    index = cluster_order(first) if order == "clustered" else list(range(len(languages)))
    labels = [languages[i] for i in index]
    off = [m[np.triu_indices(len(m), 1)] for m in matrices.values()]
    top = max([float(v.max()) for v in off if v.size] + [1e-6])
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    from matplotlib.colors import ListedColormap

    grey = ListedColormap(["lightgrey"])
    size = max(4.0, 0.22 * len(languages) + 2)
    fig, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices) + 1, size), squeeze=False)
    for ax, (label, cos) in zip(axes[0], matrices.items()):
        shown = cos[np.ix_(index, index)]
        diagonal = np.eye(len(shown), dtype=bool)
        image = ax.imshow(np.ma.masked_where((shown < 0) | diagonal, shown), cmap=cmap, vmin=0.0, vmax=top,
                          interpolation="nearest")
        # The diagonal (always 1) in grey, so it does not stretch the colour scale.
        ax.imshow(np.ma.masked_where(~diagonal, np.ones_like(shown)), cmap=grey, vmin=0, vmax=1, interpolation="nearest")
        if len(shown) <= 12:
            for (i, j), value in np.ndenumerate(shown):
                if i != j:
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                            color="black" if value < 0 or value > 0.6 * top else "white")
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(label, fontsize=9)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.8, label="cosine similarity (white: negative)")
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def write_similarity(results: dict, output_dir: str, order: str = "given", plots: bool = True,
                     groups: Optional[dict] = None) -> dict:
    """For {label: SimilarityResult} (one, or "before"/"after"): a CSV per matrix, a summary JSON (with `groups`'
    mean cosines, see `SimilarityResult.summary`), one heatmap PNG."""
    languages = next(iter(results.values())).languages
    for label, result in results.items():
        if result.languages != languages:
            raise ValueError(f"{label} has languages {result.languages}, not {languages}: compare matrices of one pool set.")
    paths = {}
    for label, result in results.items():
        name = f"similarity_{_slug(label)}.csv" if len(results) > 1 else "similarity.csv"
        paths[name] = write_matrix_csv(os.path.join(output_dir, name), result.cosine, languages)
    paths["similarity_summary.json"] = write_json(
        os.path.join(output_dir, "similarity_summary.json"), {label: r.summary(groups) for label, r in results.items()}
    )
    if plots:
        paths["similarity.png"] = plot_heatmaps({label: r.cosine for label, r in results.items()}, languages,
                                                os.path.join(output_dir, "similarity.png"), order=order)
    return paths


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)
