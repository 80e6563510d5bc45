"""TRL's private surface that rl-reasoner overrides or reads, pinned by signature.

`ReasonerTrainer` overrides private methods of `trl.GRPOTrainer` / `transformers.Trainer`, and the behaviour
callback reads private attributes. A TRL release may change any of them without notice; `pyproject.toml` pins TRL
to the minor version tested here, and this file fails first when that surface moves. To move to the next TRL
release: raise the pin, run this file, and adapt each override it names (docs/architecture.md, "TRL's surface").
"""

from __future__ import annotations

import inspect

import pytest
from trl import GRPOTrainer

from rl_reasoner.trainer import ReasonerTrainer

# method -> the leading parameters (after self) our override receives and passes on, in order
OVERRIDDEN = {
    "_generate_and_score_completions": ["inputs"],
    "_calculate_rewards": ["inputs", "prompts", "completions", "completion_ids_list"],
    "_get_per_token_logps_and_entropies": ["model", "input_ids", "attention_mask", "logits_to_keep", "batch_size",
                                           "compute_entropy", "compute_aux_loss"],
    "_save_checkpoint": ["model", "trial"],
    "_load_optimizer_and_scheduler": ["checkpoint"],
    "create_model_card": [],
}
CALLED = {"_get_output_dir": ["trial"]}  # private methods we call without overriding


@pytest.mark.parametrize("name", sorted(OVERRIDDEN) + sorted(CALLED))
def test_trl_method_has_the_signature_we_rely_on(name):
    method = getattr(GRPOTrainer, name, None)
    assert method is not None, f"trl.GRPOTrainer has no {name} any more: adapt rl_reasoner/trainer.py"
    params = [p for p in inspect.signature(method).parameters if p != "self"]
    expected = {**OVERRIDDEN, **CALLED}[name]
    assert params[: len(expected)] == expected, f"{name}{inspect.signature(method)} changed: adapt the override"


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_every_override_is_listed_and_really_overrides(name):
    assert name in vars(ReasonerTrainer), f"ReasonerTrainer no longer overrides {name}: drop it from this list"


def test_no_unlisted_private_override():
    ours = {name for name in vars(ReasonerTrainer) if name.startswith("_") and not name.startswith("__")}
    inherited = {name for name in ours if hasattr(GRPOTrainer, name)}
    assert inherited <= set(OVERRIDDEN), f"overrides of TRL's private methods not pinned here: {inherited - set(OVERRIDDEN)}"


def test_private_attributes_read_by_the_callback_and_trainer_exist():
    source = inspect.getsource(GRPOTrainer.__init__)
    for attribute in ("self._logs", "self._metrics", "self._tokenizer"):
        assert f"{attribute} =" in source, f"GRPOTrainer.__init__ no longer sets {attribute}"
    logs = source[source.index("self._logs ="):]
    for key in ('"prompt"', '"completion"', '"rewards"', '"extra"'):
        assert key in logs[:800], f"GRPOTrainer._logs has no {key} key any more (rl_reasoner/callback.py reads it)"


def test_trl_version_is_the_pinned_minor():
    import re
    from importlib.metadata import version
    from pathlib import Path

    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    pin = re.search(r'"trl([^"]*)"', pyproject).group(1)
    major, minor = (int(x) for x in version("trl").split(".")[:2])
    assert pin == f">={major}.{minor},<{major}.{minor + 1}", (pin, version("trl"))
