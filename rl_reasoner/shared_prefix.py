"""The shared-prompt training pass: each prompt's forward runs once per group, not once per completion.

GRPO scores ``num_generations`` completions of the same prompt. TRL's training pass runs the model over every
``prompt + completion`` row, so a group's prompt goes through the model ``num_generations`` times (on the default
job ~85% of the tokens of the pass). This module runs each *distinct* prompt of the batch once, keeps its key/value
states, expands them to the rows of its group (an ``index_select``, so autograd sums the group's gradients back into
the one prompt forward), and runs only the completion tokens on top. The log-probs (and entropies) come from TRL's
own fused LM head (``trl.trainer.utils.add_fused_lm_head``: temperature, logit scale/softcap, chunking, fp32 head),
called on the completion part only, so on CPU the 49k-vocabulary head also stops running over prompt positions.

Exactness. TRL's pass gives the padded row ``[prompt | completion]`` the positions ``0..L-1`` (left padding
included) and an attention mask that hides the pads. Here the prompt minus its last token is prefilled at positions
``0..P-2`` and ``[last prompt token | completion]`` follows at ``P-1..L-1`` over the same mask, so every token sees
the same keys at the same positions; the last prompt token's hidden state gives the first completion token's logit
as in TRL. The results equal TRL's up to floating-point summation order (tests/test_shared_prefix.py).

How it is wired: :func:`install` wraps the forward of the model TRL patched (the base model under PEFT), and the
trainer calls ``model(..., shared_prompt_length=P)``. The whole pass is one call of the (possibly DDP-wrapped)
model, so DDP sees one forward per backward.

Where it cannot be exact it is off (:func:`unsupported_reason` says why, in one line): attention kernels other
than eager/SDPA, vision-language models, MoE auxiliary losses, FSDP/DeepSpeed (untested), gradient checkpointing
while gradients are needed (a checkpointed layer would write the cache twice), and models whose cache is not a plain
full-attention ``DynamicCache`` (sliding-window, linear-attention, Mamba: found on the first call, then off).
"""

from __future__ import annotations

import functools

import torch
from transformers.modeling_outputs import BaseModelOutputWithPast

CACHE = "cache" if "cache" in BaseModelOutputWithPast.__dataclass_fields__ else "past_key_values"
"""The name of a model's key/value cache, as input and as output: transformers 5.24 calls ``past_key_values``
(the name until then, still accepted as an input until 5.40) ``cache``."""

EXACT_ATTENTION = ("eager", "sdpa")
"""Attention kernels whose result with a key/value cache and a padded mask equals the full-sequence one."""


def unsupported_reason(model, accelerator=None) -> str | None:
    """Why the shared-prompt pass cannot be exact for ``model`` (a PEFT model or a causal LM), or ``None``."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = base.config
    if config.get_text_config() is not config:
        return f"{type(base).__name__} is a multimodal model (its prompt carries images)"
    attention = getattr(config, "_attn_implementation", None) or "eager"
    if attention not in EXACT_ATTENTION:
        return f"attention implementation {attention!r} is not one of {list(EXACT_ATTENTION)}"
    if getattr(config, "output_router_logits", False):
        return "the model is a mixture of experts with an auxiliary router loss over all tokens"
    if accelerator is not None:
        from accelerate.utils import DistributedType

        if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
            return f"{accelerator.distributed_type.value} is not tested with it"
    if not hasattr(base, "base_model") or getattr(base, "base_model") is base:
        return f"{type(base).__name__} exposes no backbone"
    return None


def _plain_cache(cache) -> bool:
    from transformers.cache_utils import DynamicLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def install(model) -> None:
    """Wrap ``model``'s forward (after TRL's fused head was added) with the ``shared_prompt_length`` pass."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base, "_shared_prompt_installed", False):
        return
    inner = base.forward  # TRL's fused-head forward, bound to the instance

    @functools.wraps(inner)
    def forward(*args, shared_prompt_length: int | None = None, **kwargs):
        if shared_prompt_length is None:
            return inner(*args, **kwargs)
        return _shared_forward(base, inner, shared_prompt_length, **kwargs)

    base.forward = forward
    base._shared_prompt_installed = True
    base._shared_prompt_off = None  # set to a reason when a call finds the model's cache unsuitable


def _shared_forward(base, inner, prompt_length: int, *, input_ids, attention_mask, labels, **kwargs):
    """TRL's fused-head forward of ``[prompt | completion]`` rows, with each distinct prompt run once."""
    if prompt_length < 2 or base._shared_prompt_off:
        return inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True, **kwargs)
    # Distinct prompts (token ids and mask): rows of a group share one; their order does not matter.
    prompt = torch.cat([input_ids[:, :prompt_length], attention_mask[:, :prompt_length].to(input_ids.dtype)], dim=1)
    unique, row_to_prompt = torch.unique(prompt, dim=0, return_inverse=True)
    if unique.size(0) == input_ids.size(0):  # nothing is shared: TRL's pass as is
        return inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True, **kwargs)
    head = prompt_length - 1  # prefilled once; the last prompt token runs with the completion to score its first token
    prefill = base.base_model(input_ids=unique[:, :head], attention_mask=unique[:, prompt_length:prompt_length + head],
                              use_cache=True)
    cache = getattr(prefill, CACHE)
    if not _plain_cache(cache):
        base._shared_prompt_off = f"{type(base).__name__}'s cache is not a plain full-attention DynamicCache"
        print(f"[rl-reasoner] shared-prompt pass off: {base._shared_prompt_off}; using TRL's pass", flush=True)
        return inner(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True, **kwargs)
    cache.reorder_cache(row_to_prompt)  # index_select per layer: autograd sums each group's gradients back
    return inner(input_ids=input_ids[:, head:], attention_mask=attention_mask, labels=labels[:, head:],
                 fused_lm_head=True, **{CACHE: cache}, **kwargs)


# -- generation ---------------------------------------------------------------------------------------------------


def install_generate(model) -> None:
    """Wrap ``model``'s ``generate`` (HF) so that rows repeating a prompt share one prefill of it.

    Each distinct prompt minus its last token is prefilled once, at the positions ``generate`` itself gives a
    left-padded row (``cumsum(mask) - 1``), its cache is expanded to the rows, and ``generate`` continues from there
    (it runs the last prompt token and samples as usual). Calls it cannot share exactly go to ``generate`` unchanged:
    beam search, several return sequences, a caller's own cache or cache implementation, extra model inputs (images),
    no duplicated prompt, or a model whose cache is not a plain full-attention ``DynamicCache``.
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(base, "_shared_prefill_installed", False):
        return
    inner = base.generate

    @functools.wraps(inner)
    def generate(input_ids=None, attention_mask=None, generation_config=None, **kwargs):
        cache = _shared_prefill(base, input_ids, attention_mask, generation_config or base.generation_config, kwargs)
        if cache is not None:
            kwargs[CACHE] = cache
        return inner(input_ids=input_ids, attention_mask=attention_mask, generation_config=generation_config, **kwargs)

    base.generate = generate
    base._shared_prefill_installed = True


def _shared_prefill(base, input_ids, attention_mask, generation_config, kwargs):
    """The expanded prefill cache of ``input_ids[:, :-1]``, or ``None`` where ``generate`` should run as is."""
    if (not isinstance(input_ids, torch.Tensor) or not isinstance(attention_mask, torch.Tensor)
            or input_ids.dim() != 2 or input_ids.size(1) < 2 or kwargs or getattr(base, "_shared_prompt_off", None)
            or (generation_config.num_beams or 1) != 1 or (generation_config.num_return_sequences or 1) != 1
            or generation_config.cache_implementation is not None or generation_config.use_cache is False):
        return None
    unique, row_to_prompt = torch.unique(torch.cat([input_ids, attention_mask.to(input_ids.dtype)], dim=1), dim=0,
                                         return_inverse=True)
    if unique.size(0) == input_ids.size(0):
        return None
    length = input_ids.size(1)
    ids, mask = unique[:, :length - 1], unique[:, length:2 * length - 1]
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)  # as generate gives them
    with torch.no_grad():
        prefill = base.base_model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    cache = getattr(prefill, CACHE)
    if not _plain_cache(cache):
        return None
    cache.reorder_cache(row_to_prompt)
    return cache
