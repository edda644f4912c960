import pytest

from hf_mixtrain.cli import parse_script_args
from hf_mixtrain.offline import BenchmarkPaths


@pytest.fixture
def fake_build(monkeypatch, tmp_path):
    import hf_mixtrain.offline as offline

    built = []

    def build(name):
        built.append(name)
        for lang in ("en", "de", "es"):  # language folders, as a built benchmark has them
            (tmp_path / "data" / lang).mkdir(parents=True, exist_ok=True)
        return BenchmarkPaths(name, str(tmp_path / "model"), str(tmp_path / "data"), "pos", "en", ["de", "es"], {})

    monkeypatch.setattr(offline, "build_benchmark", build)
    return built


def test_layering_paper_settings_then_preset_then_user(fake_build, tmp_path):
    # The paper's POS languages include el, fr, ru, zh, which the Hub cannot give (refused): name the targets.
    model, data, _, train = parse_script_args("pos", ["--use_cpu", "true", "--target_languages", "de"])
    assert model.model_name_or_path == "FacebookAI/xlm-roberta-large" and train.learning_rate == 2e-5
    assert train.gradient_accumulation_steps == 16 and data.max_seq_length == 128 and not fake_build

    model, data, _, train = parse_script_args("pos", ["--benchmark", "offline-pos", "--use_cpu", "true", "--learning_rate", "1e-4"])
    assert fake_build == ["offline-pos"]
    assert model.model_name_or_path == str(tmp_path / "model") and model.freeze_embeddings
    assert data.data_dir == str(tmp_path / "data") and data.targets == ["de", "es"] and train.source_language == "en"
    assert train.learning_rate == 1e-4  # the user wins over the preset
    assert train.per_device_train_batch_size == 16 and train.gradient_accumulation_steps == 1  # the preset over the paper
    assert train.output_dir == "outputs/pos-gradient-mix-k10-seed42"


def test_benchmark_errors(fake_build):
    with pytest.raises(ValueError, match="Unknown benchmark 'offline-xyz'; choose one of offline-pos"):
        parse_script_args("pos", ["--benchmark", "offline-xyz"])
    with pytest.raises(ValueError, match="offline-pos is a pos benchmark: run it with run_scripts/run_pos.py"):
        parse_script_args("ner", ["--benchmark", "offline-pos"])
