"""Prompt templates: how a task's `question` becomes the prompt string the policy continues.

A template is data (a researcher edits its text in the config): an instruction (`system`), the user turn
(`user`, with a `{question}` placeholder) and a `prefill` the assistant turn starts with. `render` always
returns a plain string: TRL's `GRPOTrainer` adds a generation prompt to message-list prompts, so a
prefilled assistant turn (R1-Zero's "<think>") is only possible as a string prompt.

>>> render(get_template("r1_zero"), "What is 2 + 3?").splitlines()[-2:]
['User: What is 2 + 3?', 'Assistant: <think>']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rewards.user_values import did_you_mean

R1_ZERO_INSTRUCTION = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with the "
    "answer. The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think> <answer> answer here </answer>."
)
"""The DeepSeek-R1-Zero template text (DeepSeek-AI 2025, table 1), verbatim."""

QWEN_MATH_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
"""The instruction Qwen2.5-Math is trained with (the answer is read from the last `\\boxed{}`)."""

CODE_INSTRUCTION = (
    "Solve the programming task. Think it through, then give your complete solution in a single "
    "fenced Python code block: ```python ... ```."
)
"""Asks for exactly one fenced ```python block, the part `rewards.code_tests` runs."""

QUESTION = "{question}"
"""Placeholder in `Template.user` that `render` replaces with the question."""


class TemplateError(ValueError):
    """A template name or template text that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class Template:
    """A prompt template. Every field is text a researcher can change from the config."""

    system: str | None
    """Instruction. Chat models get it as the system message; for base models it is prepended as plain text."""
    user: str
    """The user turn; must contain the `{question}` placeholder."""
    prefill: str = ""
    """Text the assistant turn starts with (r1_zero: "<think>"); the completion continues it."""

    def __post_init__(self) -> None:
        if not isinstance(self.user, str) or QUESTION not in self.user:
            raise TemplateError(f"template user text must contain {QUESTION!r}, got {self.user!r}.")
        if self.system is not None and not isinstance(self.system, str):
            raise TemplateError(f"template system text must be a string or null, got {self.system!r}.")
        if not isinstance(self.prefill, str):
            raise TemplateError(f"template prefill must be a string, got {self.prefill!r}.")


TEMPLATES: dict[str, Template] = {
    "r1_zero": Template(system=R1_ZERO_INSTRUCTION, user=QUESTION, prefill="<think>"),
    "r1_zero_example": Template(
        system=R1_ZERO_INSTRUCTION
        + " For example: <think> A week has 7 days, so two weeks have 14 days. </think> <answer> 14 </answer>",
        user=QUESTION,
        prefill="<think>",
    ),
    "qwen_math": Template(system=None, user=QUESTION + "\n" + QWEN_MATH_INSTRUCTION),
    "code": Template(system=CODE_INSTRUCTION, user=QUESTION),
    "plain": Template(system=None, user=QUESTION),
}
"""Built-in templates by name: the R1-Zero template (and a variant that shows a one-line example of the
format, for tiny models), the Qwen-Math boxed template, a code template and the bare question."""


def get_template(spec: str | dict | Template) -> Template:
    """A template from a built-in name, a `Template`, or a dict of fields from the config.

    A dict gives `system`, `user` and `prefill` directly, or names a built-in under `base` and overrides
    some of its fields.

    >>> get_template({"base": "r1_zero", "prefill": ""}).prefill
    ''
    >>> get_template({"user": "Q: {question}"})
    Template(system=None, user='Q: {question}', prefill='')
    """
    if isinstance(spec, Template):
        return spec
    if isinstance(spec, str):
        if spec not in TEMPLATES:
            raise TemplateError(f"unknown template {spec!r}.{did_you_mean(spec, TEMPLATES)} "
                                f"Built-in templates: {sorted(TEMPLATES)}.")
        return TEMPLATES[spec]
    if isinstance(spec, dict):
        fields = {f.name for f in dataclasses.fields(Template)}
        unknown = set(spec) - fields - {"base"}
        if unknown:
            raise TemplateError(
                f"unknown template field(s) {sorted(unknown)}; a template has {sorted(fields)} and an optional 'base'."
            )
        overrides = {key: value for key, value in spec.items() if key != "base"}
        if "base" in spec:
            return dataclasses.replace(get_template(spec["base"]), **overrides)
        if "user" not in overrides:
            raise TemplateError(
                "a template given as a dict needs 'user' (with '{question}'), or 'base' naming a built-in "
                f"({sorted(TEMPLATES)}) whose fields it overrides."
            )
        return Template(**{"system": None, **overrides})
    raise TemplateError(f"a template is a name, a dict or a Template, got {type(spec).__name__}.")


def has_chat_template(tokenizer: Any) -> bool:
    """True when `tokenizer` carries a chat template (instruct/chat models)."""
    return tokenizer is not None and bool(getattr(tokenizer, "chat_template", None))


def render(template: Template | str | dict, question: str, tokenizer: Any = None, chat: bool | None = None) -> str:
    """The prompt string for `question`, ending with the template's prefill.

    `chat=None` uses the tokenizer's chat template when it has one. Chat: the system and user messages
    through `tokenizer.apply_chat_template(..., add_generation_prompt=True)`, then the prefill. Base (no
    chat template): the classic R1-Zero plain text, "<system>\\nUser: <user>\\nAssistant: <prefill>".

    >>> render("plain", "What is 2 + 3?")
    'User: What is 2 + 3?\\nAssistant:'
    """
    template = get_template(template)
    if not isinstance(question, str):
        raise TemplateError(f"the question must be a string, got {type(question).__name__}.")
    user = template.user.replace(QUESTION, question)
    if chat is None:
        chat = has_chat_template(tokenizer)
    if chat:
        if not has_chat_template(tokenizer):
            raise TemplateError(
                "chat=True needs a tokenizer with a chat template; this tokenizer has none. "
                "Fix: use chat=False (plain-text prompt) or a chat model's tokenizer."
            )
        messages = ([{"role": "system", "content": template.system}] if template.system else []) + [
            {"role": "user", "content": user}
        ]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return text + template.prefill
    head = f"{template.system}\n" if template.system else ""
    tail = f" {template.prefill}" if template.prefill else ""
    return f"{head}User: {user}\nAssistant:{tail}"
