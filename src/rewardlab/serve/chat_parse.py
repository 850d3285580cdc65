"""Turn chat-templated text back into messages, so a reward re-templates a conversation rather than
scoring the markup of another model's template as if it were the answer.

RL frameworks send rendered text: OpenRLHF's ``query`` is the policy's decoded prompt + response with
special tokens, verl's ``/classify`` input is the conversation rendered with the reward model's template,
slime's ``prompt`` may be templated. `ChatTemplateParser` learns a template's markup by rendering probe
conversations (sentinel contents, so nothing is guessed per model family): the text before the first
user turn, each role's start and end, and the generation prompt. It then walks a text turn by turn, and
accepts the result only if rendering the parsed messages gives the text back exactly; anything else is an
error naming the template, never a silent fallback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

U, A, U2, S = "\x02rlU1\x03", "\x02rlA1\x03", "\x02rlU2\x03", "\x02rlS1\x03"


class TemplateParseError(ValueError):
    """The text is not a conversation in this chat template."""


@dataclass(frozen=True)
class Markup:
    head_user: str  # everything before the first user content (bos, a default system prompt, user start)
    head_system: str | None  # before a system content (None: the template refuses system messages)
    system_end: str
    user_start: str
    user_end: str
    assistant_start: str
    assistant_end: str
    generation: str  # what add_generation_prompt appends


def _between(text: str, left: str, right: str) -> str:
    i, j = text.index(left) + len(left), text.index(right)
    return text[i:j]


def learn_markup(render: Any) -> Markup:
    """Probe a template (``render(messages, add_generation_prompt) -> str``) for its markup."""
    user = [{"role": "user", "content": U}]
    plain, prompted = render(user, False), render(user, True)
    if not prompted.startswith(plain):
        raise TemplateParseError("the generation prompt does not extend the rendered conversation")
    head_user, user_end = plain.split(U)
    ua = render([*user, {"role": "assistant", "content": A}], False)
    uau = render([*user, {"role": "assistant", "content": A}, {"role": "user", "content": U2}], False)
    mid, assistant_end = _between(ua, U, A), ua.split(A, 1)[1]
    after_a = _between(uau, A, U2)
    if not (mid.startswith(user_end) and after_a.startswith(assistant_end)):
        raise TemplateParseError("turn ends are not followed by the next turn's start")
    user_start = after_a[len(assistant_end):]
    head_system, system_end = None, ""
    try:
        su = render([{"role": "system", "content": S}, *user], False)
    except Exception:  # noqa: BLE001 -- templates may refuse system messages (Gemma raises)
        su = None
    if su is not None and S in su:
        between = _between(su, S, U)
        if between.endswith(user_start):
            head_system, system_end = su.split(S)[0], between[:len(between) - len(user_start)]
    return Markup(head_user, head_system, system_end, user_start, user_end, mid[len(user_end):], assistant_end,
                  prompted[len(plain):])


class ChatTemplateParser:
    """Split rendered conversations of one tokenizer's chat template into (messages, response)."""

    def __init__(self, tokenizer: Any, name: str = "the chat template"):
        if not getattr(tokenizer, "chat_template", None):
            raise TemplateParseError(f"{name} has no chat template")
        self.tokenizer, self.name = tokenizer, name
        self.markup = learn_markup(self.render)
        self.trailing = [t for t in {tokenizer.eos_token, tokenizer.pad_token} if t]

    def render(self, messages: list[dict[str, str]], generation: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)

    def split(self, text: str) -> tuple[list[dict[str, str]], str]:
        """(prompt messages, response) of a conversation that ends with the assistant's answer."""
        errors = []
        for candidate in self._bos_variants(text):
            try:
                return self._split(candidate)
            except TemplateParseError as exc:
                errors.append(str(exc))
        raise TemplateParseError(f"not a conversation in {self.name}: {errors[0]}")

    def parse_prompt(self, text: str) -> list[dict[str, str]] | None:
        """The messages of a rendered prompt (ending with the generation prompt), or None if it is not one."""
        m = self.markup
        for candidate in self._bos_variants(text):
            if not candidate.endswith(m.generation):
                continue
            try:
                messages, response = self._split(candidate)
            except TemplateParseError:
                continue
            if response == "":
                return messages
        return None

    def _bos_variants(self, text: str) -> list[str]:
        bos = getattr(self.tokenizer, "bos_token", None)
        variants = [text]
        if bos and text.startswith(bos) and not self.markup.head_user.startswith(bos):
            variants.append(text[len(bos):])
        if bos and not text.startswith(bos) and self.markup.head_user.startswith(bos):
            variants.append(bos + text)
        return variants

    def _split(self, text: str) -> tuple[list[dict[str, str]], str]:
        m, messages = self.markup, []
        if text.startswith(m.head_user):
            pos = len(m.head_user)
        elif m.head_system is not None and text.startswith(m.head_system):
            end = text.find(m.system_end + m.user_start, len(m.head_system))
            if end < 0:
                raise TemplateParseError("a system turn without a following user turn")
            messages.append({"role": "system", "content": text[len(m.head_system):end]})
            pos = end + len(m.system_end + m.user_start)
        else:
            raise TemplateParseError("it does not start the way the template starts a conversation")
        while True:
            end = self._user_turn_end(text, pos)
            messages.append({"role": "user", "content": text[pos:end]})
            pos = end + len(m.user_end)
            if text.startswith(m.assistant_start, pos):
                history = text.find(m.assistant_end + m.user_start, pos + len(m.assistant_start))
                if history >= 0:  # an earlier assistant turn, then the next user turn
                    messages.append({"role": "assistant", "content": text[pos + len(m.assistant_start):history]})
                    pos = history + len(m.assistant_end + m.user_start)
                    continue
            if not text.startswith(m.generation, pos):
                raise TemplateParseError("the last user turn is not followed by the assistant's turn")
            start = pos + len(m.generation)
            if self.render(messages, True) != text[:start]:
                raise TemplateParseError("the parsed messages do not render back to the same text")
            return messages, self._strip_end(text[start:])

    def _user_turn_end(self, text: str, pos: int) -> int:
        """Where the user turn starting at ``pos`` ends: its end marker followed by the assistant's start
        (so a newline end marker does not cut a multi-line message)."""
        m = self.markup
        found = [k for k in (text.find(m.user_end + m.assistant_start, pos), text.find(m.user_end + m.generation, pos))
                 if k >= 0]
        if not found:
            raise TemplateParseError("a user turn that is never answered")
        return min(found)

    def _strip_end(self, response: str) -> str:
        """Drop what follows the answer: padding, eos, the template's end of turn."""
        ends = [self.markup.assistant_end, self.markup.assistant_end.rstrip(), *self.trailing]
        changed = True
        while changed:
            changed = False
            for end in ends:
                if end and response.endswith(end):
                    response, changed = response[:-len(end)], True
        return response
