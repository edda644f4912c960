"""hf_mixtrain.analysis: aggregation of hand-made run folders, top gains, conflict dynamics, gradient similarity."""

import csv
import json
import math
import os

import numpy as np
import pytest
import torch
from data_fixtures import install_fake_hub
from helpers import synthetic_token_data, tiny_config, tiny_token_model, tiny_tokenizer
from transformers import BertModel

from hf_mixtrain.analysis import (
    aggregate,
    cluster_order,
    collect_results,
    gradient_gram,
    cosine_from_gram,
    is_complete,
    language_conflicts,
    layer_conflicts,
    layer_of,
    read_history,
    read_index,
    scan_runs,
    top_gains,
    write_dynamics,
    write_report,
)
from hf_mixtrain.analysis.__main__ import main as analysis_main
from hf_mixtrain.analysis.dynamics import rolling_mean
from hf_mixtrain.analysis.similarity import SimilarityResult

PNG = b"\x89PNG\r\n\x1a\n"


def write_run(sweep, method, k, seed, scores, source="en", metric="accuracy", task="pos", folder=None):
    """A run folder as run_method writes it: test_results.json and run.json."""
    folder = folder or os.path.join(sweep, method, f"k{k}", f"seed{seed}")
    os.makedirs(folder, exist_ok=True)
    targets = [lang for lang in scores if lang != source]
    results = {f"test_{lang}_{metric}": value for lang, value in scores.items()}
    results[f"test_avg_{metric}"] = sum(scores[l] for l in targets) / len(targets)
    with open(os.path.join(folder, "test_results.json"), "w") as f:
        json.dump(results, f)
    run = dict(task=task, method=method, source=source, targets=targets, k_shot=k, seed=seed, metric=metric,
               model="m", benchmark=None, command="x")
    with open(os.path.join(folder, "run.json"), "w") as f:
        json.dump(run, f)
    return folder


def hand_made_sweep(sweep):
    # The source (en = 99) must not enter any average.
    write_run(sweep, "zero-shot", 10, 1, {"en": 99, "de": 80, "fr": 70})  # k_shot 10 in run.json: reported as K=0
    write_run(sweep, "zero-shot", 10, 2, {"en": 99, "de": 82, "fr": 74})
    write_run(sweep, "zero-shot", 10, 3, {"en": 99, "de": 78, "fr": 72})
    write_run(sweep, "naive-mix", 5, 1, {"en": 99, "de": 85, "fr": 75})
    write_run(sweep, "naive-mix", 5, 2, {"en": 99, "de": 86, "fr": 78})
    write_run(sweep, "naive-mix", 5, 3, {"en": 99, "de": 84, "fr": 80})
    write_run(sweep, "gradient-mix", 5, 1, {"en": 99, "de": 90, "fr": 76})
    write_run(sweep, "gradient-mix", 5, 2, {"en": 99, "de": 88, "fr": 80})  # seed 3 missing


def test_aggregation_mean_and_sample_sd_by_hand(tmp_path):
    hand_made_sweep(str(tmp_path))
    report = aggregate(collect_results(str(tmp_path)))
    rows = {(r["method"], r["k"]): r for r in report.summary}
    assert set(rows) == {("zero-shot", 0), ("naive-mix", 5), ("gradient-mix", 5)}
    # zero-shot averages 75, 78, 75: mean 76, sample sd sqrt(((-1)^2 + 2^2 + (-1)^2) / 2) = sqrt(3)
    assert rows[("zero-shot", 0)]["mean"] == pytest.approx(76.0)
    assert rows[("zero-shot", 0)]["sd"] == pytest.approx(math.sqrt(3))
    # naive-mix averages 80, 82, 82: mean 244/3, sd sqrt((16/9 + 4/9 + 4/9) / 2) = sqrt(4/3)
    assert rows[("naive-mix", 5)]["mean"] == pytest.approx(244 / 3)
    assert rows[("naive-mix", 5)]["sd"] == pytest.approx(math.sqrt(4 / 3))
    # gradient-mix: seeds 1, 2 only (83, 84): mean 83.5, sd sqrt(0.5)
    g = rows[("gradient-mix", 5)]
    assert (g["mean"], g["n"], g["seeds"], g["missing_seeds"]) == (pytest.approx(83.5), 2, [1, 2], [3])
    assert g["sd"] == pytest.approx(math.sqrt(0.5))
    per_lang = {(r["method"], r["k"], r["lang"]): r for r in report.per_language}
    assert per_lang[("gradient-mix", 5, "de")]["mean"] == pytest.approx(89.0)
    assert per_lang[("gradient-mix", 5, "de")]["sd"] == pytest.approx(math.sqrt(2))
    assert per_lang[("zero-shot", 0, "en")]["mean"] == pytest.approx(99.0)
    # A single seed has no sample sd.
    only = aggregate([r for r in collect_results(str(tmp_path)) if r.seed == 1])
    assert all(r["sd"] is None and r["n"] == 1 for r in only.summary)
    # Restricting the average to some targets.
    de_only = aggregate(collect_results(str(tmp_path)), languages=["de"])
    assert {(r["method"], r["k"]): r["mean"] for r in de_only.summary}[("zero-shot", 0)] == pytest.approx(80.0)


def test_report_files(tmp_path):
    sweep = str(tmp_path)
    hand_made_sweep(sweep)
    paths = write_report(sweep, top=2)
    report_dir = os.path.join(sweep, "report")
    assert {"report.md", "summary.csv", "per_language.csv", "runs.csv", "top_gains.csv", "methods_by_k.png",
            "gains_over_naive-mix.png"} <= set(paths)
    for name, path in paths.items():
        assert os.path.dirname(path) == report_dir
        if name.endswith(".png"):
            with open(path, "rb") as f:
                assert f.read(8) == PNG
    text = open(paths["report.md"]).read()
    assert "| gradient-mix-train (`gradient-mix`) | - | 83.50 ± 0.71 (n=2) |" in text
    assert "| Zero-Shot (`zero-shot`) | 76.00 ± 1.73 (n=3) | - |" in text
    assert "gradient-mix K=5 lacks seed 3" in text
    # over naive-mix, paired on seeds 1-2 (gradient-mix lacks seed 3): de (5 + 2) / 2, fr (1 + 2) / 2
    assert "- K=5 (2 seed(s) paired): de +3.50, fr +1.50" in text
    with open(paths["summary.csv"]) as f:
        summary = {(r["method"], r["k"]): r for r in csv.DictReader(f)}
    assert float(summary[("naive-mix", "5")]["mean"]) == pytest.approx(244 / 3)
    assert summary[("gradient-mix", "5")]["missing_seeds"] == "3"
    assert len(read_index(sweep)) == 8
    assert not any(name.startswith(".tmp-") for name in os.listdir(report_dir))


def test_report_names_the_environments(tmp_path):
    # Runs reproduce each other only within one environment: the report lists each with its runs.
    sweep = str(tmp_path)
    hand_made_sweep(sweep)
    text = open(write_report(sweep, plots=False)["report.md"]).read()
    assert "All 8 runs ran on: not recorded" in text
    env = {"hf_mixtrain": "0.1.0", "source": {"commit": "abcdef0123456", "dirty": False}, "torch": "2.13.0+cpu",
           "transformers": "5.23.0", "cpu": "AMD EPYC", "accelerator": None, "torch_threads": 1, "world_size": 1}
    for method, seed in [("naive-mix", 1), ("naive-mix", 3), ("zero-shot", 2)]:
        path = os.path.join(sweep, method, "k5" if method != "zero-shot" else "k10", f"seed{seed}", "run.json")
        run = json.load(open(path))
        json.dump({**run, "environment": env}, open(path, "w"))
    text = open(write_report(sweep, plots=False)["report.md"]).read()
    assert "The runs ran in 2 environments:" in text
    assert ("| commit abcdef0123, torch 2.13.0+cpu, transformers 5.23.0, AMD EPYC, 1 thread(s), 1 process(es) | 3 | "
            "zero-shot K=0 seed 2; naive-mix K=5 seed 1 3 |") in text
    assert "zero-shot K=0 seed 1 3; naive-mix K=5 seed 2; gradient-mix K=5 seed 1 2 |" in text


def test_report_cli(tmp_path, capsys):
    sweep = str(tmp_path)
    hand_made_sweep(sweep)
    analysis_main(["report", "--sweep_dir", sweep, "--no_plots", "--languages", "de", "--output_dir", str(tmp_path / "r")])
    out = capsys.readouterr().out
    assert "mean accuracy over the 1 target languages (de;" in out and "| Zero-Shot (`zero-shot`) | 80.00 ± 2.00 (n=3) | - |" in out
    assert not any(name.endswith(".png") for name in os.listdir(tmp_path / "r"))


def test_top_gains_hand_made():
    from hf_mixtrain.analysis.store import RunRecord

    gm = {"a": 60, "b": 53, "c": 49, "d": 43, "e": 70, "f": 50}
    fs = {"a": 55, "b": 50, "c": 50, "d": 40, "e": 60, "f": 50}
    nm = {"a": 59, "b": 50, "c": 50, "d": 44, "e": 71, "f": 40}
    records = [
        RunRecord("pos", m, 5, 1, "accuracy", "en", tuple(gm), {"en": 90, **s}, f"/{m}")
        for m, s in (("gradient-mix", gm), ("ord-fs", fs), ("naive-mix", nm))
    ]
    report = aggregate(records)
    top = top_gains(report, "gradient-mix", "ord-fs", top=5)
    # e +10, a +5, b +3 and d +3 (tie: by language code), f 0; c (-1) is sixth.
    assert [(g["lang"], g["gain"]) for g in top[5]] == [("e", 10), ("a", 5), ("b", 3), ("d", 3), ("f", 0)]
    assert top[5][0]["method_mean"] == 70 and top[5][0]["baseline_mean"] == 60
    over_naive = top_gains(report, "gradient-mix", "naive-mix", top=2)
    assert [(g["lang"], g["gain"]) for g in over_naive[5]] == [("f", 10), ("b", 3)]
    assert top_gains(report, "gradient-mix", "mix-ft") == {}


def test_top_gains_pair_by_seed_and_skip_unpaired_seeds():
    from hf_mixtrain.analysis.store import RunRecord

    def run(method, seed, a, b):
        scores = {"en": 90, "a": a, "b": b}
        return RunRecord("pos", method, 5, seed, "accuracy", "en", ("a", "b"), scores, f"/{method}{seed}")

    records = [
        run("gradient-mix", 1, 60, 50), run("gradient-mix", 2, 70, 40), run("gradient-mix", 4, 0, 0),  # 4: unpaired
        run("naive-mix", 1, 58, 52), run("naive-mix", 2, 66, 44), run("naive-mix", 3, 100, 100),  # 3: unpaired
    ]
    gains = top_gains(aggregate(records), "gradient-mix", "naive-mix")[5]
    # seeds 1 and 2: a (60-58 + 70-66)/2 = +3, b (50-52 + 40-44)/2 = -3; seeds 3 and 4 take no part
    assert [(g["lang"], g["gain"], g["seeds"]) for g in gains] == [("a", 3.0, 2), ("b", -3.0, 2)]
    assert gains[0]["method_mean"] == 65 and gains[0]["baseline_mean"] == 62


def test_store_errors_and_incomplete_runs(tmp_path):
    with pytest.raises(ValueError, match="No finished runs"):
        aggregate(collect_results(str(tmp_path)))
    with pytest.raises(FileNotFoundError, match="hf-mixtrain sweep --sweep_dir"):
        collect_results(str(tmp_path / "nowhere"))
    sweep = str(tmp_path / "s")
    write_run(sweep, "naive-mix", 5, 1, {"en": 1, "de": 2, "fr": 3})
    # Unfinished: run.json names fr, test_results.json lacks it; and a folder without run.json.
    partial = write_run(sweep, "naive-mix", 5, 2, {"en": 1, "de": 2, "fr": 3})
    with open(os.path.join(partial, "test_results.json"), "w") as f:
        json.dump({"test_en_accuracy": 1, "test_de_accuracy": 2}, f)
    os.makedirs(os.path.join(sweep, "naive-mix", "k5", "seed3"))
    with open(os.path.join(sweep, "naive-mix", "k5", "seed3", "test_results.json"), "w") as f:
        f.write("{}")
    assert [(r.seed) for r in scan_runs(sweep)] == [1]
    assert not is_complete(partial)
    with pytest.raises(ValueError, match="holds a finished run with seed 1 .expected 7."):
        is_complete(os.path.join(sweep, "naive-mix", "k5", "seed1"), "naive-mix", 5, 7)
    # A run that lacks a language another run has.
    write_run(sweep, "gradient-mix", 5, 1, {"en": 1, "de": 2})
    with pytest.raises(ValueError, match=r"different target languages: .*naive-mix.* lacks none and has extra \['fr'\].*--languages de"):
        aggregate(scan_runs(sweep))
    assert aggregate(scan_runs(sweep), languages=["de"]).summary[0]["mean"] == 2
    with pytest.raises(ValueError, match="has no target it"):
        aggregate(scan_runs(sweep), languages=["it"])
    # Two finished runs of the same method, K and seed.
    write_run(sweep, "gradient-mix", 5, 1, {"en": 1, "de": 2}, folder=os.path.join(sweep, "copy"))
    with pytest.raises(ValueError, match="Two finished runs of gradient-mix K=5 seed=1"):
        scan_runs(sweep)
    other = str(tmp_path / "o")
    write_run(other, "naive-mix", 5, 1, {"en": 1, "de": 2}, metric="accuracy")
    write_run(other, "gradient-mix", 5, 1, {"en": 1, "de": 2}, metric="f1")
    with pytest.raises(ValueError, match="disagree on the metric"):
        aggregate(scan_runs(other))


# ---- conflict dynamics -----------------------------------------------------------------------------------------

EVENTS = [
    {"step": 0, "micro_step": 0, "lang": "de", "dot": -1.0, "cosine": -0.2, "projected": True,
     "tensor_cosines": {"bert.embeddings.word_embeddings.weight": -0.1, "bert.encoder.layer.0.attention.self.query.weight": 0.2,
                        "bert.encoder.layer.0.output.dense.bias": -0.3, "bert.encoder.layer.1.output.dense.weight": float("nan"),
                        "classifier.weight": 0.5}},
    {"step": 1, "micro_step": 0, "lang": "fr", "dot": 1.0, "cosine": 0.4, "projected": False,
     "tensor_cosines": {"bert.embeddings.word_embeddings.weight": 0.3, "bert.encoder.layer.0.attention.self.query.weight": -0.2,
                        "bert.encoder.layer.1.output.dense.weight": -0.4, "classifier.weight": 0.1}},
    {"step": 2, "micro_step": 0, "lang": "de", "dot": 2.0, "cosine": 0.6, "projected": True},  # per-tensor projection
    {"step": 3, "micro_step": 0, "lang": "en", "dot": -2.0, "cosine": -0.1, "projected": True},
    {"step": 4, "micro_step": 0, "lang": "de", "dot": -0.5, "cosine": -0.05, "projected": True},
    {"step": 5, "micro_step": 0, "lang": "fr", "dot": 0.5, "cosine": 0.2, "projected": False},
]


def test_conflict_rates_by_hand(tmp_path):
    path = tmp_path / "surgery_history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in reversed(EVENTS)))  # order is restored by step
    events = read_history(str(tmp_path), missing_ok=False)
    assert [e["step"] for e in events] == list(range(6))
    rows = {r["lang"]: r for r in language_conflicts(events)}
    # de: dots -1, 2, -0.5 -> 2 conflicts of 3; projected 3 of 3 (one projection without a global conflict)
    assert (rows["de"]["surgeries"], rows["de"]["conflicts"]) == (3, 2)
    assert rows["de"]["conflict_rate"] == pytest.approx(2 / 3) and rows["de"]["projected_rate"] == 1.0
    assert rows["de"]["mean_cosine"] == pytest.approx((-0.2 + 0.6 - 0.05) / 3) and rows["de"]["min_cosine"] == -0.2
    assert (rows["fr"]["conflicts"], rows["en"]["conflicts"]) == (0, 1)
    assert (rows["all"]["surgeries"], rows["all"]["conflicts"]) == (6, 3)
    layers = {r["layer"]: r for r in layer_conflicts(events)}
    assert list(layers) == ["embeddings", "layer 0", "layer 1", "head"]
    assert (layers["embeddings"]["cosines"], layers["embeddings"]["conflicts"]) == (2, 1)
    assert (layers["layer 0"]["cosines"], layers["layer 0"]["conflicts"]) == (3, 2)
    assert (layers["layer 1"]["cosines"], layers["layer 1"]["conflicts"]) == (1, 1)  # the nan is left out
    assert layers["head"]["conflict_rate"] == 0.0
    assert rolling_mean([1, 0, 0, 1], 2).tolist() == [1.0, 0.5, 0.0, 0.5]

    paths = write_dynamics({"seed 1": events, "seed 2": events[:3]}, str(tmp_path / "out"), prefix="d")
    assert set(paths) == {"d_languages.csv", "d_layers.csv", "d_cosine.png", "d_conflict_rate.png", "d_layers.png"}
    for name in ("d_cosine.png", "d_conflict_rate.png", "d_layers.png"):
        with open(paths[name], "rb") as f:
            assert f.read(8) == PNG
    with open(paths["d_languages.csv"]) as f:
        pooled = {r["lang"]: r for r in csv.DictReader(f)}
    assert (pooled["de"]["surgeries"], pooled["de"]["conflicts"]) == ("5", "3")  # 3 + 2 events of de, pooled


def test_layer_names():
    assert layer_of("bert.encoder.layer.11.attention.output.LayerNorm.weight") == "layer 11"
    assert layer_of("roberta.encoder.layer.0.intermediate.dense.bias") == "layer 0"
    assert layer_of("transformer.h.3.attn.c_attn.weight") == "layer 3"
    assert layer_of("bert.embeddings.LayerNorm.weight") == "embeddings"
    assert layer_of("classifier.bias") == "head" and layer_of("qa_outputs.weight") == "head"
    assert layer_of("bert.pooler.dense.weight") == "pooler"


def test_sweep_report_includes_dynamics_and_dynamics_cli(tmp_path, capsys):
    sweep = str(tmp_path / "s")
    for seed in (1, 2):
        write_run(sweep, "ord-fs", 5, seed, {"en": 90, "de": 70 + seed, "fr": 60})
        folder = write_run(sweep, "gradient-mix", 5, seed, {"en": 90, "de": 72, "fr": 61 + seed})
        with open(os.path.join(folder, "surgery_history.jsonl"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in EVENTS)
    paths = write_report(sweep, plots=False)
    assert "dynamics_k5_languages.csv" in paths and not any(p.endswith(".png") for p in paths)
    text = open(paths["report.md"]).read()
    assert "### K=5 (2 run(s), 12 surgeries, 6 conflicts)" in text
    analysis_main(["dynamics", "--history", os.path.join(sweep, "gradient-mix", "k5", "seed1"),
                   "--output_dir", str(tmp_path / "d")])
    assert "| de | 3 | 2 | 0.667 |" in capsys.readouterr().out
    assert (tmp_path / "d" / "dynamics_cosine.png").is_file()


# ---- gradient similarity ---------------------------------------------------------------------------------------


def _batches(ds, size):
    ds = ds.remove_columns("lang_id").with_format("torch")
    return [ds[i : i + size] for i in range(0, len(ds), size)]


def test_similarity_matches_independent_gradients(tmp_path):
    model = tiny_token_model(seed=0)
    model.get_input_embeddings().requires_grad_(False)  # frozen parameters take no part
    pools = {
        "en": synthetic_token_data(6, seed=1),
        "de": synthetic_token_data(5, seed=2, label_shift=1),
        "sw": synthetic_token_data(4, seed=3),
        "ja": synthetic_token_data(3, seed=4, label_shift=2),
    }
    # Batches of 2 rows: equal lengths, every token labelled, so the row-weighted mean of batch means is the pool mean.
    languages, gram = gradient_gram(model, {l: _batches(ds, 2) for l, ds in pools.items()}, work_dir=str(tmp_path),
                                    chunk_size=1000)
    cos = cosine_from_gram(gram)
    assert languages == ["en", "de", "sw", "ja"]
    assert np.allclose(cos, cos.T) and np.allclose(np.diag(cos), 1.0)
    assert os.listdir(tmp_path) == []  # the stored gradients are deleted

    params = [p for p in model.parameters() if p.requires_grad]
    flat = {}
    for lang, ds in pools.items():
        (whole,) = _batches(ds, len(ds))
        grads = torch.autograd.grad(model(**whole).loss, params)
        flat[lang] = torch.cat([g.reshape(-1) for g in grads]).double()
    for i, a in enumerate(languages):
        for j, b in enumerate(languages):
            expected = torch.dot(flat[a], flat[b]) / (flat[a].norm() * flat[b].norm())
            assert cos[i, j] == pytest.approx(float(expected), abs=1e-6)
            assert gram[i, j] == pytest.approx(float(torch.dot(flat[a], flat[b])), rel=1e-5)
    assert (cos < 0).any()  # opposite label rules conflict


def test_cluster_order_groups_similar_languages():
    cos = np.array([[1, 0.1, 0.9, 0.0], [0.1, 1, 0.2, 0.8], [0.9, 0.2, 1, 0.1], [0.0, 0.8, 0.1, 1]])
    order = cluster_order(cos)
    assert sorted(order) == [0, 1, 2, 3]
    assert abs(order.index(0) - order.index(2)) == 1 and abs(order.index(1) - order.index(3)) == 1


def test_similarity_group_means_by_hand():
    languages = ["en", "de", "nl", "he", "zh"]
    cos = np.array([
        [1.0, 0.5, 0.4, 0.1, 0.0],
        [0.5, 1.0, 0.6, 0.2, -0.2],
        [0.4, 0.6, 1.0, 0.3, 0.1],
        [0.1, 0.2, 0.3, 1.0, -0.4],
        [0.0, -0.2, 0.1, -0.4, 1.0],
    ])
    result = SimilarityResult(languages, cos, cos, {lang: 5 for lang in languages})
    summary = result.summary({"close": ["de", "nl"], "distant": ["he", "zh"], "source": ["en"]})
    assert summary["group_means"] == pytest.approx({
        "close": 0.6,  # de-nl
        "distant": -0.4,  # he-zh
        "source": None,  # one language: no pair within it
        "close x distant": (0.2 - 0.2 + 0.3 + 0.1) / 4,
        "close x source": (0.5 + 0.4) / 2,
        "distant x source": (0.1 + 0.0) / 2,
    })
    assert summary["negative_pairs"] == 2 and sorted(summary["conflicting"]) == ["de-zh", "he-zh"]
    assert "group_means" not in result.summary()
    with pytest.raises(ValueError, match=r"group 'far' names th, not among the matrix's languages"):
        result.summary({"far": ["he", "th"]})


def test_similarity_cli_refuses_a_group_language_outside_the_matrix_before_any_work(tmp_path, capsys):
    code = analysis_main([
        "similarity", "--task", "pos", "--model_name_or_path", str(tmp_path / "no-such-model"), "--output_dir",
        str(tmp_path / "sim"), "--groups", "far=de,th", "--target_languages", "de,mr", "--k_shot", "3",
    ])
    assert code == 2  # before the (missing) checkpoint is opened
    assert "--groups: group 'far' names th, not among the matrix's languages (en, de, mr)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        analysis_main(["similarity", "--task", "pos", "--model_name_or_path", "m", "--output_dir", str(tmp_path),
                       "--groups", "a=de", "--groups", "a=mr"])
    assert exit_info.value.code == 2
    assert "group name a given twice" in capsys.readouterr().err


def test_similarity_cli_writes_heatmap_and_csv(tmp_path, monkeypatch, capsys):
    install_fake_hub(monkeypatch)
    model_dir = tmp_path / "model"
    tokenizer = tiny_tokenizer()
    BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "sim"
    analysis_main([
        "similarity", "--task", "pos", "--model_name_or_path", str(model_dir), "--compare_model_name_or_path",
        str(model_dir), "--labels", "before,after", "--output_dir", str(out), "--order", "clustered",
        "--target_languages", "de,mr", "--k_shot", "3", "--seed", "1", "--use_cpu", "true", "--max_seq_length", "32",
        "--groups", "targets=de,mr", "--groups", "source=en",
    ])
    with open(out / "similarity_before.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["lang", "en", "de", "mr"]
    matrix = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert np.allclose(matrix, matrix.T) and np.allclose(np.diag(matrix), 1.0)
    with open(out / "similarity_after.csv") as f:
        assert list(csv.reader(f)) == rows  # the same checkpoint on the same pools
    summary = json.loads((out / "similarity_summary.json").read_text())
    assert summary["before"]["pool_rows"] == {"en": 3, "de": 3, "mr": 3}
    assert summary["before"]["pairs"] == 3
    assert summary["before"]["group_means"] == pytest.approx(  # from the CSV: rows en, de, mr
        {"targets": matrix[1, 2], "source": None, "targets x source": (matrix[0, 1] + matrix[0, 2]) / 2}
    )
    assert (out / "similarity.png").read_bytes()[:8] == PNG
    assert "language pairs conflict" in capsys.readouterr().out


def test_plots_without_matplotlib_say_what_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    hand_made_sweep(str(tmp_path))
    with pytest.raises(ImportError, match=r"hf-mixtrain\[plots\].*--no_plots"):
        write_report(str(tmp_path))
    assert os.path.isfile(write_report(str(tmp_path), plots=False)["report.md"])


def test_atomic_writes_leave_files_as_readable_as_open_would(tmp_path):
    import stat

    from hf_mixtrain.files import write_json

    umask = os.umask(0o022)
    try:
        path = write_json(str(tmp_path / "results.json"), {"a": 1})
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


# ---- variants side by side -------------------------------------------------------------------------------------


def _with_cost(folder, runtime, events=None):
    with open(os.path.join(folder, "all_results.json"), "w") as f:
        json.dump({"train_runtime": runtime}, f)
    if events is not None:
        with open(os.path.join(folder, "surgery_history.jsonl"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in events)


def _two_sweeps(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    for seed, scores, runtime in ((1, (80, 70, 50), 100), (2, (82, 72, 52), 110), (3, (84, 70, 60), 120)):
        _with_cost(write_run(a, "naive-mix", 5, seed, dict(zip(("en", "de", "fr", "zh"), (90,) + scores))), runtime)
    _with_cost(write_run(b, "gradient-mix", 5, 1, {"en": 90, "de": 81, "fr": 70, "zh": 56}), 150, EVENTS[:4])
    _with_cost(write_run(b, "gradient-mix", 5, 2, {"en": 91, "de": 82, "fr": 74, "zh": 51}), 176, EVENTS[4:])
    return a, b


def test_compare_pairs_by_seed_by_hand(tmp_path):
    from hf_mixtrain.analysis.compare import compare, load_rows, write_compare

    a, b = _two_sweeps(tmp_path)
    rows = load_rows([("naive", a, None), ("gradient", b, "gradient-mix")])
    result = compare(rows, groups={"far": ["zh"], "near": ["de", "fr"]})
    cells = {(r["label"], r["group"]): r for r in result["rows"]}
    naive, grad = cells[("naive", "all")], cells[("gradient", "all")]
    # naive averages 200/3, 206/3, 214/3; gradient 69, 69 (seed 3 missing, so 2 pairs)
    assert (naive["mean"], naive["n"]) == (pytest.approx(620 / 9), 3) and naive["paired_n"] == 0
    assert (grad["mean"], grad["sd"], grad["n"]) == (pytest.approx(69.0), pytest.approx(0.0), 2)
    # paired all: 69 - 200/3 = 7/3, 69 - 206/3 = 1/3 -> mean 4/3, sd sqrt(2); ahead in both
    assert (grad["paired_mean"], grad["paired_sd"], grad["ahead"], grad["paired_n"]) == (
        pytest.approx(4 / 3), pytest.approx(math.sqrt(2)), 2, 2)
    far = cells[("gradient", "far")]  # zh: 56 - 50 = +6, 51 - 52 = -1
    assert (far["paired_mean"], far["paired_sd"], far["ahead"]) == (pytest.approx(2.5), pytest.approx(7 / math.sqrt(2)), 1)
    assert cells[("gradient", "near")]["paired_mean"] == pytest.approx(0.75)  # (75.5 - 75 + 78 - 77) / 2
    # cost: 150/100 and 176/110 -> 1.5, 1.6; surgeries 4 and 2 per run, 3 and 1 of them projected
    assert (grad["runtime_ratio"], grad["runtime_ratio_sd"]) == (pytest.approx(1.55), pytest.approx(0.1 / math.sqrt(2)))
    assert (grad["runtime_mean"], grad["surgeries"], grad["projected"]) == (pytest.approx(163), 3, 2)
    assert naive["runtime_ratio"] == pytest.approx(1.0) and naive["surgeries"] is None  # no surgery to count

    paths = write_compare(rows, str(tmp_path / "out"), groups={"far": ["zh"]}, baseline="naive")
    text = open(paths["compare.md"]).read()
    assert "| gradient (K=5) | 69.00 ± 0.00 (n=2) | 53.50 ± 3.54 (n=2) | +1.33 ± 1.41, ahead 2/2 | +2.50 ± 4.95, ahead 1/2 | 3.0 / 2.0 | 163 | 1.55 ± 0.07 |" in text
    assert "| zh | 54.00 | 53.50 |" in text  # per language: (50 + 52 + 60) / 3, (56 + 51) / 2
    with open(paths["compare_runs.csv"]) as f:
        runs = list(csv.DictReader(f))
    assert [(r["label"], r["seed"], r["surgeries"]) for r in runs] == [
        ("naive", "1", ""), ("naive", "2", ""), ("naive", "3", ""), ("gradient", "1", "4"), ("gradient", "2", "2")]
    # Restricted to some targets, and a gradient-mix run whose history is gone: "not counted", not "no surgery".
    os.remove(os.path.join(b, "gradient-mix", "k5", "seed2", "surgery_history.jsonl"))
    result = compare(load_rows([("naive", a, None), ("gradient", b, None)]), languages=["zh"])
    grad = {(r["label"], r["group"]): r for r in result["rows"]}[("gradient", "all")]
    assert result["languages"] == ["zh"] and grad["paired_mean"] == pytest.approx(2.5)
    assert (grad["surgeries"], grad["projected"]) == (4, 3)  # seed 1's only


def test_compare_of_single_runs_shows_no_sd(tmp_path):
    from hf_mixtrain.analysis.compare import load_rows, write_compare

    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    write_run(a, "naive-mix", 10, 1, {"en": 90, "de": 80, "fr": 70})
    write_run(b, "gradient-mix", 10, 1, {"en": 90, "de": 83, "fr": 70})
    text = open(write_compare(load_rows([("naive", a, None), ("gradient", b, None)]), str(tmp_path / "o"))["compare.md"]).read()
    assert "| gradient (K=10) | 76.50 (n=1) | +1.50, ahead 1/1 | — | — | — |" in text  # no surgery history, no runtime


def test_compare_cli_and_its_errors(tmp_path, capsys):
    a, b = _two_sweeps(tmp_path)
    out = str(tmp_path / "cmp")
    assert analysis_main(["compare", "--row", f"naive={a}", "--row", f"gradient={b}:gradient-mix",
                          "--groups", "far=zh", "--output_dir", out]) == 0
    assert "+2.50 ± 4.95, ahead 1/2" in capsys.readouterr().out
    assert analysis_main(["compare", "--row", f"naive={a}", "--row", f"g={b}", "--groups", "far=ja",
                          "--output_dir", out]) == 1
    assert "Group 'far' names ja, not among the targets" in capsys.readouterr().err
    assert analysis_main(["compare", "--row", f"naive={a}:gradient-mix", "--output_dir", out]) == 1
    assert "has no finished gradient-mix run (it has naive-mix)" in capsys.readouterr().err
    # An output folder that is a file: one error line, exit 1.
    (tmp_path / "a-file").write_text("x")
    assert analysis_main(["compare", "--row", f"naive={a}", "--output_dir", str(tmp_path / "a-file")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
    # What the arguments alone show is wrong exits 2, before any sweep is read.
    bad = (
        (["--row", "no-equals-sign"], "argument --row: 'no-equals-sign': write LABEL=SWEEP_DIR[:METHOD]"),
        (["--row", f"x={a}", "--row", f"x={b}"], "row label x given twice"),
        (["--row", f"x={a}", "--baseline", "y"], "--baseline 'y' is not a row label (x)"),
        (["--row", f"x={a}", "--groups", "all=de"], "'all' is the group of every target"),
        (["--row", f"x={a}", "--groups", "g=de", "--groups", "g=fr"], "group name g given twice"),
        (["--row", f"x={a}", "--groups", "g=de,de"], "names de more than once"),
    )
    for args, message in bad:
        with pytest.raises(SystemExit) as exit_info:
            analysis_main(["compare", *args, "--output_dir", out])
        assert exit_info.value.code == 2 and message in capsys.readouterr().err, message


def test_spearman_by_hand():
    from hf_mixtrain.analysis.dynamics import spearman

    assert spearman([1, 2, 3, 4], [8, 6, 4, 2]) == pytest.approx(-1.0)
    # ties share their mean rank: x ranks 1, 2.5, 2.5, 4 against 1, 2, 3, 4 -> 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(4.5 / math.sqrt(22.5))
    assert spearman([1, 2], [2, 1]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def test_report_sets_conflicts_against_zero_shot(tmp_path):
    sweep = str(tmp_path / "s")
    for seed in (1, 2):
        write_run(sweep, "zero-shot", 5, seed, {"en": 90, "de": 80 + seed, "fr": 60})
        folder = write_run(sweep, "gradient-mix", 5, seed, {"en": 90, "de": 85, "fr": 70})
        with open(os.path.join(folder, "surgery_history.jsonl"), "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in EVENTS)
    paths = write_report(sweep)
    with open(paths["conflict_vs_zero_shot_k5.csv"]) as f:
        rows = list(csv.DictReader(f))
    # en (the source) is no target; fr (zero-shot 60) first; de: 2 conflicts of 3 surgeries per run
    assert [(r["lang"], float(r["zero_shot"]), float(r["conflict_rate"])) for r in rows] == [
        ("fr", 60.0, 0.0), ("de", 81.5, pytest.approx(2 / 3))]
    with open(paths["conflict_vs_zero_shot_k5.png"], "rb") as f:
        assert f.read(8) == PNG
    assert "Spearman rho = -" in open(paths["report.md"]).read()  # two languages: no correlation claimed
