"""Request bodies of the server façades, and how each becomes `Sample`s.

Every façade body is a pydantic model that ignores unknown keys (the frameworks add fields between
releases) but checks what it reads: lengths against the server's limits, types, the shape of chat turns.
Text that arrives chat-templated (OpenRLHF's ``query``, verl's ``/classify`` input, slime's templated
``prompt``) is parsed back into messages with `rewardlab.serve.chat_parse`, so the reward applies its own
template to a conversation instead of scoring another template's markup.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rewardlab.serve.chat_parse import ChatTemplateParser, TemplateParseError
from rewardlab.serve.schemas import check_text, query_to_sample
from rewardlab.types import Sample

TokenIds = list[int]
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class Turn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Annotated[str, Field(min_length=1, max_length=64)]
    content: str


class VLLMPoolingBody(BaseModel):
    """vLLM's ClassificationRequest / PoolingRequest fields that a reward server can honour."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    input: str | list[str] | TokenIds | list[TokenIds] | None = None
    messages: list[Turn] | None = None
    use_activation: bool | None = None
    activation: bool | None = None  # vLLM < 0.11.2 (verl's reward loop still sends it)
    softmax: bool | None = None  # older still
    add_special_tokens: bool | None = None
    task: Literal["classify", "token_classify", "embed", "token_embed", "score", "plugin"] | None = None

    def activated(self) -> bool:
        """vLLM's rule: the classifier activation applies unless one of the flags says false."""
        return all(flag is not False for flag in (self.use_activation, self.activation, self.softmax))

    def inputs(self) -> list[str] | list[TokenIds]:
        if self.messages is not None:
            raise ValueError("internal: chat requests have no text inputs")
        value = self.input
        if value is None:
            raise ValueError("give 'input' (text or token ids) or 'messages'")
        if isinstance(value, str):
            return [value]
        if value and all(isinstance(v, int) for v in value):
            return [value]  # type: ignore[list-item]
        return list(value)  # type: ignore[arg-type]


class SlimeBody(BaseModel):
    """slime's remote reward model contract (``--rm-type remote_rm``): one sample per request."""

    model_config = ConfigDict(extra="ignore")
    prompt: str | list[Turn]
    response: str
    label: Any = None


class VerifyBody(BaseModel):
    """NeMo Gym's ``BaseVerifyRequest``: the Responses API request and the policy's response; task
    fields (``expected_answer`` ...) ride along as extra keys and are echoed back."""

    model_config = ConfigDict(extra="allow")
    responses_create_params: dict[str, Any]
    response: dict[str, Any]


def text_sample(parser: ChatTemplateParser | None, text: str, reference: str | None = None) -> Sample:
    """A rendered conversation (prompt + answer) as a Sample: parsed with the chat template when there is
    one; plain text is the answer to an empty prompt."""
    if parser is not None:
        messages, response = parser.split(text)
        return Sample(messages, response, reference=reference)
    return Sample("", text, reference=reference)


def openrlhf_sample(parser: ChatTemplateParser | None, strict: bool, query: str, prompt: str | None,
                    label: Any) -> Sample:
    """One OpenRLHF ``/get_reward`` item. ``query`` is the policy's decoded prompt + response with special
    tokens: parsed with the chat template; if it is not a conversation in that template (a policy with a
    plain ``input_template``), the documented prompt-prefix rule applies, unless the template was named
    explicitly (``strict``), where a mismatch is the client's error."""
    reference = None if label is None else str(label)
    if parser is not None:
        try:
            return text_sample(parser, query, reference)
        except TemplateParseError:
            if strict:
                raise
    return query_to_sample(query, prompt, label)


def slime_sample(parser: ChatTemplateParser | None, body: SlimeBody) -> Sample:
    reference = None if body.label is None else str(body.label)
    if isinstance(body.prompt, list):
        return Sample(_turns(body.prompt), body.response, reference=reference)
    messages = parser.parse_prompt(body.prompt) if parser is not None else None  # a templated prompt
    return Sample(messages if messages is not None else body.prompt, body.response, reference=reference)


def verify_sample(body: VerifyBody) -> Sample:
    """The conversation of a Responses API request and the assistant text of its response."""
    params = body.responses_create_params
    messages: list[dict[str, str]] = []
    if isinstance(params.get("instructions"), str):
        messages.append({"role": "system", "content": params["instructions"]})
    given = params.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for k, item in enumerate(given):
            if not isinstance(item, dict):
                raise ValueError(f"responses_create_params.input[{k}] is not an object")
            role = ROLES.get(str(item.get("role")))
            if role is None:  # tool calls and their outputs are not conversation turns
                continue
            messages.append({"role": role, "content": _content_text(item.get("content"),
                                                                    f"responses_create_params.input[{k}]")})
    else:
        raise ValueError("responses_create_params.input must be a string or a list of input items")
    answer = [_content_text(item.get("content"), f"response.output[{k}]", "output_text")
              for k, item in enumerate(body.response.get("output") or []) if _assistant_message(item)]
    if not answer:
        raise ValueError("response.output holds no assistant message to score")
    extra = body.model_extra or {}
    reference = next((str(extra[k]) for k in ("expected_answer", "ground_truth", "label") if extra.get(k) is not None),
                     None)
    prompt: Any = messages if messages else ""
    return Sample(prompt, "".join(answer), reference=reference)


def _assistant_message(item: Any) -> bool:
    """An assistant message item of the Responses API output (reasoning and tool-call items are not)."""
    return isinstance(item, dict) and item.get("type", "message") == "message" and item.get("role") == "assistant"


def _content_text(content: Any, where: str, kind: str = "input_text") -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", kind) in (kind, "text")]
        return "".join(str(p) for p in parts)
    raise ValueError(f"{where}.content must be a string or a list of content parts")


def _turns(turns: list[Turn]) -> list[dict[str, str]]:
    return [{"role": t.role, "content": t.content} for t in turns]


def chat_sample(turns: list[Turn]) -> Sample:
    """vLLM's chat variant of /classify: the last turn is the assistant's answer being scored."""
    if not turns or turns[-1].role != "assistant":
        raise ValueError("'messages' must end with the assistant turn to score")
    return Sample(_turns(turns[:-1]) or "", turns[-1].content)


def check_sizes(samples: list[Sample], max_samples: int, max_chars: int) -> None:
    """The server's per-request limits, with messages naming them (422 through the caller)."""
    if len(samples) > max_samples:
        raise ValueError(f"{len(samples)} inputs in one request; this server accepts at most {max_samples} "
                         "(--max-samples-per-request)")
    for i, s in enumerate(samples):
        texts = [s.response, s.reference or ""]
        texts += [s.prompt] if isinstance(s.prompt, str) else [m["content"] for m in s.prompt]
        total = sum(len(t) for t in texts)
        if total > max_chars:
            raise ValueError(f"input {i} has {total} characters; this server accepts at most {max_chars} per "
                             "sample (--max-chars-per-sample)")
        for t in texts:
            check_text(t, f"input {i}")
