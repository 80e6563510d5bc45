"""bench/gpu_throughput.py: the architectures are the real ones, and the bench runs end to end (CPU smoke size)."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "gpu_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("gpu_throughput", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.mark.parametrize("arch, billions", [("qwen2.5-0.5b", 0.494), ("qwen2.5-1.5b", 1.544), ("qwen2.5-3b", 3.086)])
def test_architectures_have_the_parameter_counts_of_the_released_models(bench, arch, billions):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    with torch.device("meta"):
        model = Qwen2ForCausalLM(Qwen2Config(**bench.ARCHITECTURES[arch]))
    assert sum(p.numel() for p in model.parameters()) / 1e9 == pytest.approx(billions, rel=0.01)


def test_smoke_run_on_cpu_reports_every_figure(bench, tmp_path):
    result = bench.main(["--device", "cpu", "--smoke", "--json", str(tmp_path / "out.json")])
    assert result["device"] == "cpu" and result["model"] == "smoke" and result["steps_timed"] == 1
    for key in ("step_time_s", "rollout_tokens_per_s", "training_tokens_per_s", "peak_memory_gib",
                "model_tflops_per_s"):
        assert result[key] > 0, key
    assert result["mfu"] is None  # no peak FLOP/s known for a CPU
    assert (tmp_path / "out.json").read_text().count('"rollout_tokens_per_s"') == 1
    # The step includes the rollout and the update: neither can take longer than the step.
    rollout_seconds = result["sequences_per_step"] * result["completion_length"] / result["rollout_tokens_per_s"]
    assert rollout_seconds < result["step_time_s"]


def test_mfu_uses_the_device_peak(bench):
    assert bench.peak_tflops("NVIDIA H200") == 989.0
    assert bench.peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert bench.model_flops(1, prompt_tokens=0, completion_tokens=1, extra_forwards=0) == 2 + 6
