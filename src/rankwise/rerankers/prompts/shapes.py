"""The shapes every prompt takes, and the one set of placeholder names they use.

A prompt is data a method fills; its shape says how it becomes model input:

- `ChatPrompt`: a system turn (optional) and a user turn over one passage or a pair, through the model's chat
  template;
- `ListPrompt`: the same over a list of labelled passages (listwise, setwise, groupwise);
- `SegmentedPrompt` and `PairTemplate` (prompts/pointwise.py): raw text as a checkpoint's own code builds it,
  tokenized in pieces, with the parts that may be cut marked (the body; the query and passage);
- `Conversation`: FastChat's conversation format, for checkpoints whose tokenizer has no chat template;
- `ReasoningPrompt` (prompts/pointwise.py): raw or chat text that opens a think block, and how it closes.

Placeholders, the same names in every template (and in templates users give as options): {query},
{passage} (one passage's text), {passage_a} and {passage_b} (a pair's), {passages} (the list, each passage
written with its {label} and joined), {label}, {count} (passages in the list), {instruction}, {max_grade},
{identifier} (the identifiers in the prompt's words), {example} (an example answer), {examples}
(UMBRELA's few-shot slot). Templates are filled with `str.format`: a literal brace is written {{ or }}."""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from rankwise.errors import OptionError

ChatRenderer = Callable[[list[dict[str, str]]], str]  # a backend's chat template: messages to prompt text

# Names earlier releases used for the same slots, so that a template written for them gets a message that
# says what to write instead.
RENAMED_PLACEHOLDERS = {
    "text": "passage",
    "candidate": "passage",
    "docs": "passages",
    "documents": "passages",
    "n": "count",
    "num": "count",
    "rank": "label",
    "index": "label",
    "a": "passage_a",
    "b": "passage_b",
    "passage0": "passage_a",
    "passage1": "passage_b",
}


def placeholders(template: str) -> set[str]:
    """The placeholder names a format template uses."""
    try:
        return {name.split(".")[0].split("[")[0] for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as e:
        raise OptionError(
            f"template {template!r} is not a format string: {e} (write a literal brace as {{{{)"
        ) from None


def check_template(template: str, required: Iterable[str], where: str, allowed: Iterable[str] = ()) -> None:
    """Refuse a template (an option a user gave) that lacks a placeholder the method fills, or uses one the
    method does not, naming the current name of a renamed one."""
    used = placeholders(template)
    required = list(required)
    for name in sorted(used - set(required) - set(allowed)):
        hint = f" (write {{{RENAMED_PLACEHOLDERS[name]}}})" if name in RENAMED_PLACEHOLDERS else ""
        raise OptionError(f"{where}: unknown placeholder {{{name}}}{hint} in {template!r}")
    missing = [name for name in required if name not in used]
    if missing:
        raise OptionError(f"{where} must hold {', '.join('{' + m + '}' for m in missing)}, got {template!r}")


@dataclass(frozen=True)
class ChatPrompt:
    """A system turn (optional) and a user turn, filled with the fields the method gives."""

    system: str | None
    user: str

    def messages(self, **fields: str) -> list[dict[str, str]]:
        turns = [{"role": "system", "content": self.system}] if self.system else []
        return turns + [{"role": "user", "content": self.user.format(**fields)}]


@dataclass(frozen=True)
class ThinkClosing:
    """How a think block ends: the tag the model closes it with, and what the method writes when the budget
    runs out first (`forced_close`, the reasoning so far in `{reasoning}`), after which the answer is read as
    usual. `trim_to_sentence` cuts an unfinished reasoning back to its last full sentence first (Rank1)."""

    think_close: str = "</think>"
    forced_close: str = "\n{reasoning}\n</think>"
    trim_to_sentence: bool = False


@dataclass(frozen=True)
class ListPrompt:
    """A system turn (optional) and a user turn over a list of passages: `user` holds {query}, {passages}
    (each passage written as `passage`, with {label} and {passage}, joined by `separator`), {count}, and
    where the prompt uses them {identifier} (`identifier_words` per alphabet, so the text describes the
    identifiers it shows), {example} (`example` with the first two labels as {first} and {second}) and the
    method's own fields ({max_grade}). `escape_identifiers`: bracketed tokens inside a passage ("see [B]")
    are rewritten "(B)" so they cannot pass for identifiers; `opening` follows the chat template's
    generation prompt (a think block's opening) and `closing` says how that block ends."""

    system: str | None
    user: str
    passage: str = "[{label}] {passage}"
    separator: str = "\n"
    identifier_words: dict[str, str] = field(default_factory=dict)
    example: str = ""
    escape_identifiers: bool = True
    opening: str = ""
    closing: ThinkClosing = ThinkClosing()

    def prepare_passage(self, text: str, max_words: int) -> str:
        """A passage as the prompt shows it: escaped (when the prompt escapes) and at most `max_words` words."""
        return truncate_words(escape_identifiers(text) if self.escape_identifiers else text, max_words)

    def messages(self, query: str, labels: list[str], passages: list[str], **fields: object) -> list[dict[str, str]]:
        alphabet = "numeric" if labels and labels[0].isdigit() else "alpha"
        written = self.separator.join(
            self.passage.format(label=label, passage=text) for label, text in zip(labels, passages)
        )
        first, second = (labels + labels)[:2] if labels else ("", "")
        user = self.user.format(
            query=query,
            passages=written,
            count=len(labels),
            identifier=self.identifier_words.get(alphabet, ""),
            example=self.example.format(first=first, second=second),
            **fields,
        )
        return ([{"role": "system", "content": self.system}] if self.system else []) + [
            {"role": "user", "content": user}
        ]

    def chat_text(self, chat_prefix: ChatRenderer, messages: list[dict[str, str]]) -> str:
        """The prompt text, through the model's own chat template."""
        return chat_prefix(messages)

    def prompt_text(
        self, chat_prefix: ChatRenderer, query: str, labels: list[str], passages: list[str], **fields: object
    ) -> str:
        """The chat-template text and the opening the model continues after."""
        return chat_prefix(self.messages(query, labels, passages, **fields)) + self.opening


@dataclass(frozen=True)
class Conversation:
    """A chat format as FastChat's conversation templates write it (`SeparatorStyle.ADD_COLON_TWO`), for
    checkpoints trained through FastChat whose tokenizer carries no chat template (RankVicuna): the system
    text, then "ROLE: message" turns closed by `sep` after a user turn and `sep2` after an assistant turn, and
    "ASSISTANT:" where the model answers. The first message may be the system's; without one the format's
    own `system` is used."""

    system: str
    roles: tuple[str, str] = ("USER", "ASSISTANT")
    sep: str = " "
    sep2: str = "</s>"

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        system = self.system
        if messages and messages[0]["role"] == "system":
            system, messages = messages[0]["content"], messages[1:]
        text, seps = system + self.sep, (self.sep, self.sep2)
        for i, message in enumerate(messages):
            role = self.roles[0] if message["role"] == "user" else self.roles[1]
            text += f"{role}: {message['content']}{seps[i % 2]}"
        return text + (f"{self.roles[1]}:" if add_generation_prompt else "")


# FastChat 0.2.36 `vicuna_v1.1` (fastchat/conversation.py), what `get_conversation_template` gives any model
# path holding "vicuna" (castorini/rank_vicuna_7b_v1).
VICUNA_V1_1 = Conversation(
    system="A chat between a curious user and an artificial intelligence assistant. The "
    "assistant gives helpful, detailed, and polite answers to the user's questions."
)


@dataclass(frozen=True)
class InstConversation:
    """FastChat's `SeparatorStyle.LLAMA2` as its `mistral` template writes it, for checkpoints trained through
    FastChat on Mistral (RankMistral100): "[INST] " + system + "\n" (just "[INST] " without a system text),
    the first user turn and a space, then "[/INST]" where the model answers; later turns "ROLE message" closed
    by " " after a user turn and "</s>" after an assistant turn."""

    roles: tuple[str, str] = ("[INST]", "[/INST]")
    sep: str = " "
    sep2: str = "</s>"

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        system = ""
        if messages and messages[0]["role"] == "system":
            system, messages = messages[0]["content"], messages[1:]
        text, seps = (f"[INST] {system}\n" if system else "[INST] "), (self.sep, self.sep2)
        for i, message in enumerate(messages):
            if i == 0:
                text += message["content"] + " "
            else:
                text += f"{self.roles[i % 2]} {message['content']}{seps[i % 2]}"
        return text + (self.roles[1] if add_generation_prompt else "")


# FastChat 0.2.36 `mistral` (fastchat/conversation.py), what `get_conversation_template` gives any model path
# holding "mistral".
MISTRAL_INST = InstConversation()


def escape_identifiers(text: str) -> str:
    """Bracketed tokens inside a passage ("see [B]") become "(B)", so they cannot pass for identifiers."""
    import re

    return re.sub(r"\[([A-Za-z]{1,2}|\d{1,3})\]", r"(\1)", text)


def truncate_words(text: str, max_words: int) -> str:
    words = text.split()
    return text if len(words) <= max_words else " ".join(words[:max_words])
