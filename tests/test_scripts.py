"""The task scripts end to end: every task x every method, on a tiny model and data served in the Hub schemas."""

import importlib.util
import json
import os

import pytest
import torch
from data_fixtures import install_fake_hub
from helpers import tiny_config, tiny_tokenizer
from transformers import BertModel

from hf_mixtrain.data.errors import DataError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ["zero-shot", "ord-fs-dev", "ord-fs", "mix-ft", "naive-mix", "gradient-mix"]
METRIC = {"ner": "f1", "pos": "accuracy", "qa": "f1", "xnli": "accuracy"}
TARGETS = {"ner": ["de", "sw"], "pos": ["de", "mr"], "qa": ["ar", "sw"], "xnli": ["de", "fr"]}


def script(task):
    spec = importlib.util.spec_from_file_location(f"run_{task}", os.path.join(ROOT, "run_scripts", f"run_{task}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-model")
    tokenizer = tiny_tokenizer()
    BertModel(tiny_config(vocab_size=len(tokenizer)), add_pooling_layer=False).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


def argv(task, method, model, out, cache, **extra):
    args = {
        "model_name_or_path": model,
        "method": method,
        "target_languages": ",".join(TARGETS[task]),
        "k_shot": 2,
        "max_seq_length": 64,
        "doc_stride": 16,
        "use_cpu": True,
        "report_to": "none",
        "disable_tqdm": True,
        "max_steps": 4,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "learning_rate": 1e-3,
        "eval_steps": 2,
        "save_strategy": "no",
        "adapt_num_train_epochs": 2,
        "adapt_batch_size": 2,
        "output_dir": str(out),
        "source_model_cache_dir": str(cache),
        "max_train_samples": 24,
        "max_test_samples": 8,
        **extra,
    }
    out = []
    for key, value in args.items():
        if value is not None:  # None: leave the script's default
            out += [f"--{key}", "true" if value is True else str(value)]
    return out


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("task", ["ner", "pos", "qa", "xnli"])
def test_every_task_and_method(task, method, tiny_model_dir, tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    if task == "qa" and method == "ord-fs-dev":
        # TyDiQA-GoldP has no target dev split: the method needs one, and the error says so.
        with pytest.raises(ValueError, match="validation"):
            script(task).main(argv(task, method, tiny_model_dir, tmp_path / "out", tmp_path / "cache"))
        return
    results = script(task).main(argv(task, method, tiny_model_dir, tmp_path / "out", tmp_path / "cache"))
    metric = METRIC[task]
    languages = ["en"] + TARGETS[task]
    for lang in languages:
        assert 0.0 <= results[f"test_{lang}_{metric}"] <= 100.0
    assert results[f"test_avg_{metric}"] == pytest.approx(sum(results[f"test_{l}_{metric}"] for l in TARGETS[task]) / 2)
    out = tmp_path / "out"
    with open(out / "test_results.json") as f:
        assert json.load(f) == pytest.approx(results)
    with open(out / "all_results.json") as f:
        assert set(results) <= set(json.load(f))
    with open(out / "run.json") as f:
        run = json.load(f)
    assert run["method"] == method and run["targets"] == TARGETS[task] and run["k_shot"] == 2
    assert run["environment"]["torch"] == torch.__version__ and run["environment"]["world_size"] == 1
    if method in ("ord-fs", "ord-fs-dev"):
        assert not (out / "config.json").exists()
    else:
        with open(out / "config.json") as f:
            config = json.load(f)
        if task != "qa":
            assert len(config["id2label"]) > 1 and config["label2id"]
    assert (out / "surgery_history.jsonl").exists() == (method == "gradient-mix")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_with_evaluation_during_training(method, tiny_model_dir, tmp_path, monkeypatch):
    # The offline presets evaluate every epoch; the test-set pass must not inherit that (zero-shot once failed here).
    install_fake_hub(monkeypatch)
    extra = dict(eval_strategy="epoch", eval_steps=None)
    results = script("pos").main(argv("pos", method, tiny_model_dir, tmp_path / "out", tmp_path / "cache", **extra))
    assert all(0.0 <= results[f"test_{lang}_accuracy"] <= 100.0 for lang in ["en"] + TARGETS["pos"])


@pytest.mark.parametrize("method, selection", [("mix-ft", "source-dev"), ("ord-fs", "source-dev"), ("naive-mix", None)])
def test_a_missing_source_dev_split_falls_back_to_the_last_checkpoint(method, selection, tiny_model_dir, tmp_path, caplog):
    # Local data with no dev split at all: a source-dev-selected stage keeps its last checkpoint and says so (mix-ft
    # and ord-fs once asked the Trainer to evaluate with nothing to evaluate). ord-fs-dev is refused before loading.
    data = tmp_path / "data"
    for lang, words in (("en", ("a", "b")), ("de", ("c", "d"))):
        (data / lang).mkdir(parents=True)
        (data / lang / "train.conll").write_text("".join(f"{w}\tNOUN\n{w}{w}\tVERB\n\n" for w in words * 3))
        (data / lang / "test.conll").write_text(f"{words[0]}\tNOUN\n\n")
    extra = dict(data_dir=str(data), target_languages="de", max_train_samples=None, max_test_samples=None,
                 selection=selection, eval_strategy="epoch", eval_steps=None)
    with caplog.at_level("WARNING"):
        results = script("pos").main(argv("pos", method, tiny_model_dir, tmp_path / "out", tmp_path / "cache", **extra))
    assert set(results) >= {"test_en_accuracy", "test_de_accuracy"}
    assert f"en has no dev split: {method} keeps the last checkpoint" in caplog.text
    if method == "mix-ft":
        with pytest.raises(DataError, match="de lacks 'validation'"):
            script("pos").main(argv("pos", "ord-fs-dev", tiny_model_dir, tmp_path / "o2", tmp_path / "cache", **extra))


def test_two_stage_methods_reuse_the_cached_source_model(tiny_model_dir, tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    import hf_mixtrain.recipes as recipes
    import hf_mixtrain.source_cache as source_cache

    stages = []
    original = recipes.train_stage
    for module in (recipes, source_cache):
        monkeypatch.setattr(module, "train_stage", lambda *a, **kw: stages.append(kw["name"]) or original(*a, **kw))
    cache = tmp_path / "cache"
    script("ner").main(argv("ner", "ord-fs", tiny_model_dir, tmp_path / "a", cache))
    assert stages.count("source") == 1 and len(os.listdir(cache)) == 1
    script("ner").main(argv("ner", "mix-ft", tiny_model_dir, tmp_path / "b", cache))
    script("ner").main(argv("ner", "zero-shot", tiny_model_dir, tmp_path / "c", cache))
    assert stages.count("source") == 1, stages
    # Another seed is another source model.
    script("ner").main(argv("ner", "zero-shot", tiny_model_dir, tmp_path / "d", cache, seed=3))
    assert stages.count("source") == 2 and len(os.listdir(cache)) == 2


def test_json_config_and_local_files(tiny_model_dir, tmp_path):
    # Local CoNLL files in the data_dir layout, and every argument in one JSON file.
    rows = {"en": [("John", "B-PER"), ("lives", "O"), ("in", "O"), ("Paris", "B-LOC")],
            "de": [("Anna", "B-PER"), ("wohnt", "O"), ("in", "O"), ("Berlin", "B-LOC")]}
    for lang, sentence in rows.items():
        os.makedirs(tmp_path / "data" / lang)
        for split, n in (("train", 12), ("validation", 4), ("test", 4)):
            with open(tmp_path / "data" / lang / f"{split}.conll", "w") as f:
                f.write("\n\n".join("\n".join(f"{t}\t{tag}" for t, tag in sentence) for _ in range(n)) + "\n")
    args = argv("ner", "gradient-mix", tiny_model_dir, tmp_path / "out", tmp_path / "cache", data_dir=str(tmp_path / "data"))
    args[args.index("--target_languages") + 1] = "de"
    config = {args[i][2:]: args[i + 1] for i in range(0, len(args), 2)}
    config = {k: (int(v) if v.isdigit() else True if v == "true" else v) for k, v in config.items()}
    config["learning_rate"] = 1e-3
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    results = script("ner").main([str(path)])
    assert set(results) >= {"test_en_f1", "test_de_f1", "test_avg_f1"}


def test_script_argument_errors(tiny_model_dir, tmp_path, monkeypatch):
    install_fake_hub(monkeypatch)
    with pytest.raises(ValueError, match="target-dev"):
        script("ner").main(argv("ner", "naive-mix", tiny_model_dir, tmp_path / "o", tmp_path / "c", selection="target-dev"))
    with pytest.raises(ValueError, match="push_to_hub"):
        script("ner").main(argv("ner", "ord-fs", tiny_model_dir, tmp_path / "o", tmp_path / "c", push_to_hub=True))
    with pytest.raises(ValueError, match="(?i)unknown language|valid"):
        script("ner").main(argv("ner", "naive-mix", tiny_model_dir, tmp_path / "o", tmp_path / "c", target_languages="de,xx"))


def test_push_to_hub_from_the_script(tiny_model_dir, tmp_path, monkeypatch):
    from huggingface_hub import ModelCard
    from hub_fake import install

    install_fake_hub(monkeypatch)
    hub = install(monkeypatch)
    extra = dict(push_to_hub=True, hub_model_id="user/tiny-ner-mix", hub_strategy="checkpoint", save_strategy="steps", save_steps=2)
    results = script("ner").main(argv("ner", "gradient-mix", tiny_model_dir, tmp_path / "out", tmp_path / "cache", **extra))
    repo = hub.repos["user/tiny-ner-mix"]
    assert {"model.safetensors", "config.json", "tokenizer.json", "README.md", "surgery_history.jsonl"} <= set(repo)
    assert "last-checkpoint/README.md" in repo and "last-checkpoint/surgery_history.jsonl" in repo
    card = ModelCard(repo["README.md"].decode())
    assert card.data.language == ["en", "de", "sw"]
    entries = {(r.dataset_config, r.metric_type): r.metric_value for r in card.data.eval_results}
    assert entries[("sw", "f1")] == pytest.approx(results["test_sw_f1"])
    assert "--method gradient-mix" in card.text and "pipeline(" in card.text
    assert json.loads(repo["config.json"])["id2label"]["1"] == "B-PER"


@pytest.mark.parametrize("task", ["ner", "pos", "qa", "xnli"])
def test_readme_local_file_examples(task, tiny_model_dir, tmp_path):
    """The example files README's local-data section uses (examples/data/<task>/<lang>/...) run through the scripts."""
    data_dir = os.path.join(ROOT, "examples", "data", task)
    extra = {"data_dir": data_dir, "target_languages": "de", "max_train_samples": None, "max_test_samples": None}
    args = argv(task, "gradient-mix", tiny_model_dir, tmp_path / "out", tmp_path / "cache", **extra)
    results = script(task).main(args)
    assert set(results) >= {f"test_en_{METRIC[task]}", f"test_de_{METRIC[task]}", f"test_avg_{METRIC[task]}"}


@pytest.mark.parametrize("method", ["gradient-mix", "ord-fs"])
def test_the_shim_and_the_entry_point_give_the_same_results(method, tiny_model_dir, tmp_path, monkeypatch):
    from hf_mixtrain.__main__ import main as entry_point

    install_fake_hub(monkeypatch)
    shim = script("pos").main(argv("pos", method, tiny_model_dir, tmp_path / "shim", tmp_path / "cache-a"))
    assert entry_point(["train", "pos", *argv("pos", method, tiny_model_dir, tmp_path / "cli", tmp_path / "cache-b")]) == 0
    with open(tmp_path / "cli" / "test_results.json") as f:
        assert json.load(f) == shim
    runs = {name: json.loads((tmp_path / name / "run.json").read_text()) for name in ("shim", "cli")}
    assert runs["shim"]["command"].startswith("python run_scripts/run_pos.py ")
    assert runs["cli"]["command"].startswith("python -m hf_mixtrain train pos ")


def test_bad_arguments_exit_2_before_anything_loads_and_project_errors_exit_1(tiny_model_dir, tmp_path, capsys):
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cases = ((["--target_languages", "xx"], "--target_languages", "valid codes: af ar bg de en"),
             (["--k_shot", "-1"], "--k_shot -1", "must be >= 1"))
    for args, flag, names in cases:
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "run_scripts", "run_pos.py"), *args],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"run_scripts/run_pos.py: error: {flag}") and names in proc.stderr
        assert "Traceback" not in proc.stderr
    # A project error found later (here: more shots than a language has) is one error line and exit status 1.
    from hf_mixtrain.__main__ import main as entry_point

    data = tmp_path / "data"
    for lang in ("en", "de"):
        (data / lang).mkdir(parents=True)
        (data / lang / "train.conll").write_text("a\tNOUN\n\nb\tVERB\n\n")
        (data / lang / "test.conll").write_text("a\tNOUN\n\n")
    code = entry_point(["train", "pos", "--model_name_or_path", tiny_model_dir, "--data_dir", str(data),
                        "--target_languages", "de", "--k_shot", "5", "--use_cpu", "true", "--output_dir", str(tmp_path / "o")])
    assert code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]  # not the progress bars
    assert len(lines) == 1 and lines[0].startswith("hf-mixtrain train pos: error: ") and "has only 2" in lines[0]


def test_a_run_mixing_hub_and_local_languages_records_each_source(tiny_model_dir, tmp_path, monkeypatch):
    # en and sw from the (fake) Hub, de from a local folder: run.json says so, and the card names the Hub configs only.
    from huggingface_hub import ModelCard

    install_fake_hub(monkeypatch)
    de = tmp_path / "data" / "de"
    de.mkdir(parents=True)
    sentence = "Anna\tB-PER\nwohnt\tO\nin\tO\nBerlin\tB-LOC\n\n"
    (de / "train.conll").write_text(sentence * 3)
    (de / "test.conll").write_text(sentence)
    out = tmp_path / "out"
    script("ner").main(argv("ner", "naive-mix", tiny_model_dir, out, tmp_path / "cache", data_dir=str(tmp_path / "data"),
                            selection="last"))
    sources = json.loads((out / "run.json").read_text())["data_sources"]
    assert sources["de"] == {"source": "local", "path": str(de)}
    assert sources["en"] == {"source": "hub", "dataset": "unimelb-nlp/wikiann", "config": "en"}
    assert sources["sw"]["source"] == "hub"
    card = ModelCard((out / "README.md").read_text())
    assert card.data.datasets == ["unimelb-nlp/wikiann"]
    configs = {r.dataset_config for r in card.data.eval_results}
    assert configs == {"en", "sw"}  # de was read from a local folder: no Hub config to name


@pytest.mark.parametrize("method", ["zero-shot", "ord-fs", "mix-ft", "naive-mix"])
def test_language_batches_given_to_every_method_of_a_sweep(method, tiny_model_dir, tmp_path, monkeypatch):
    # A sweep passes --language_batches true to every method; the single-language stages must not use them.
    install_fake_hub(monkeypatch)
    results = script("ner").main(argv("ner", method, tiny_model_dir, tmp_path / "out", tmp_path / "cache",
                                      language_batches=True))
    assert {"test_en_f1", "test_de_f1", "test_sw_f1"} <= set(results)
