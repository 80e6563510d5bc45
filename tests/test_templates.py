"""Prompt templates: built-ins, config overrides, base-model and chat rendering."""

import doctest

import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from transformers import PreTrainedTokenizerFast

import rl_reasoner.templates as templates
from rl_reasoner.templates import R1_ZERO_INSTRUCTION, TEMPLATES, Template, TemplateError, get_template, render

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@pytest.fixture
def chat_tokenizer():
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")))
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def test_doctests():
    assert doctest.testmod(templates).failed == 0


def test_builtins_exist_and_r1_zero_is_verbatim():
    assert {"r1_zero", "r1_zero_example", "qwen_math", "code", "plain"} <= set(TEMPLATES)
    assert TEMPLATES["r1_zero"].system.startswith("A conversation between User and Assistant.")
    assert TEMPLATES["r1_zero"].system.endswith("<think> reasoning process here </think> <answer> answer here </answer>.")
    assert TEMPLATES["r1_zero"].prefill == "<think>"
    assert "\\boxed{}" in TEMPLATES["qwen_math"].user
    assert "```python" in TEMPLATES["code"].system
    example = TEMPLATES["r1_zero_example"].system.removeprefix(R1_ZERO_INSTRUCTION)
    assert example.count("<think>") == example.count("</think>") == example.count("<answer>") == 1


def test_base_rendering_is_classic_r1_zero_text():
    prompt = render("r1_zero", "What is 7 + 5?")
    assert prompt == f"{R1_ZERO_INSTRUCTION}\nUser: What is 7 + 5?\nAssistant: <think>"


def test_braces_in_template_and_question_survive():
    # str.format would choke on "\boxed{}" or on braces in the question; the placeholder is replaced literally.
    prompt = render("qwen_math", "Simplify {x | x > 0}.")
    assert "Simplify {x | x > 0}.\nPlease reason step by step" in prompt
    assert prompt.endswith("\\boxed{}.\nAssistant:")


def test_chat_rendering_uses_tokenizer_template_then_prefill(chat_tokenizer):
    prompt = render("r1_zero", "What is 7 + 5?", chat_tokenizer)
    assert prompt == f"<|system|>{R1_ZERO_INSTRUCTION}\n<|user|>What is 7 + 5?\n<|assistant|><think>"
    # No system message when the template has none.
    assert render("plain", "Hi?", chat_tokenizer) == "<|user|>Hi?\n<|assistant|>"
    # chat=False forces the plain-text form even for a chat tokenizer.
    assert render("plain", "Hi?", chat_tokenizer, chat=False) == "User: Hi?\nAssistant:"


def test_chat_without_chat_template_is_an_error(chat_tokenizer):
    chat_tokenizer.chat_template = None
    assert render("plain", "Hi?", chat_tokenizer) == "User: Hi?\nAssistant:"
    with pytest.raises(TemplateError, match="needs a tokenizer with a chat template"):
        render("plain", "Hi?", chat_tokenizer, chat=True)


def test_config_dicts_override_or_define_templates():
    edited = get_template({"base": "r1_zero", "system": "Think, then answer."})
    assert edited == Template(system="Think, then answer.", user="{question}", prefill="<think>")
    own = get_template({"system": "S", "user": "Q: {question}\nA:", "prefill": " "})
    assert render(own, "1+1?") == "S\nUser: Q: 1+1?\nA:\nAssistant:  "


@pytest.mark.parametrize(
    "spec, message",
    [
        ("r1-zero", "Did you mean 'r1_zero'"),
        ({"user": "no placeholder"}, "must contain '{question}'"),
        ({"system": "only a system"}, "needs 'user'"),
        ({"base": "plain", "sytem": "x"}, "unknown template field"),
        ({"base": "nope"}, "unknown template 'nope'"),
        (42, "a name, a dict or a Template"),
    ],
)
def test_bad_templates_fail_with_a_fix(spec, message):
    with pytest.raises(TemplateError, match=message):
        get_template(spec)
