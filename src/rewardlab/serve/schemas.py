"""Request and response schemas, with the server's limits built into them.

The limits are per server (``ServeConfig``), so the models are made by `build_schemas(config)` rather
than declared at module level: the OpenAPI document then states the real limits (``maxItems``,
``maxLength``) and a request over a limit fails validation with a message that names the limit.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rewardlab.serve.config import ServeConfig
from rewardlab.types import Sample

MAX_MESSAGES = 4096
MAX_STEPS = 4096
MAX_ID_CHARS = 256
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
Label = str | int | float | bool | None


def check_text(value: str, where: str) -> None:
    """Reject strings that cannot be encoded as UTF-8 (JSON ``"\\ud800"`` decodes to a lone surrogate).

    Tokenizers fail on them deep inside a batch; refusing them here keeps the error the client's (422).
    """
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} contains an unpaired UTF-16 surrogate; send valid Unicode text") from None


class ScoreOut(BaseModel):
    value: float | None = Field(description="The reward; null when the sample could not be scored.")
    steps: list[float | None] | None = None
    components: dict[str, float | None] = Field(default_factory=dict)
    rationale: str | None = None
    error: str | None = Field(None, description="Why the sample has no value (e.g. too long).")
    id: str | None = None


class ScoreResponse(BaseModel):
    request_id: str
    reward: str
    normalized: bool
    scores: list[ScoreOut]


class GetRewardResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


@dataclass(frozen=True)
class Schemas:
    """The request models of one server, built for its limits (responses have none: module level)."""

    ScoreRequest: type[BaseModel]
    GetRewardRequest: type[BaseModel]


def build_schemas(config: ServeConfig) -> Schemas:
    """Models whose field constraints are this server's limits."""
    return Schemas(score_request_model(config), get_reward_request_model(config))


def score_request_model(config: ServeConfig) -> type[BaseModel]:
    """``POST /v1/score`` body, limited to ``config``'s samples per request and characters per sample."""
    max_chars = config.max_chars_per_sample
    text = Annotated[str, Field(max_length=max_chars)]

    class Message(BaseModel):
        """One chat turn."""

        model_config = ConfigDict(extra="forbid")
        role: Annotated[str, Field(min_length=1, max_length=64)]
        content: text

    class SampleIn(BaseModel):
        """A response to score; ``prompt`` is text or chat messages, ``id`` is echoed back."""

        model_config = ConfigDict(extra="forbid")
        prompt: text | Annotated[list[Message], Field(max_length=MAX_MESSAGES)] = ""
        response: text
        steps: Annotated[list[text], Field(max_length=MAX_STEPS)] | None = None
        reference: text | None = None
        id: Annotated[str, Field(max_length=MAX_ID_CHARS)] | None = None

        @model_validator(mode="after")
        def _limit_total(self) -> "SampleIn":
            texts = list(_sample_texts(self))
            total = sum(len(t) for t in texts)
            if total > max_chars:
                raise ValueError(
                    f"sample has {total} characters (prompt + response + steps + reference); this server "
                    f"accepts at most {max_chars} per sample (--max-chars-per-sample)"
                )
            for t in texts:
                check_text(t, "sample text")
            return self

        def to_sample(self) -> Sample:
            prompt: Any = self.prompt if isinstance(self.prompt, str) else [m.model_dump() for m in self.prompt]
            steps = tuple(self.steps) if self.steps is not None else None
            return Sample(prompt, self.response, steps=steps, reference=self.reference,
                          metadata={"id": self.id} if self.id is not None else {})

    class ScoreRequest(BaseModel):
        """``POST /v1/score``: samples in, one score per sample out, in order."""

        model_config = ConfigDict(extra="forbid")
        samples: Annotated[list[SampleIn], Field(min_length=1, max_length=config.max_samples_per_request)]
        request_id: Annotated[str, Field(pattern=REQUEST_ID_PATTERN)] | None = None

    return ScoreRequest


def get_reward_request_model(config: ServeConfig) -> type[BaseModel]:
    """OpenRLHF's ``/get_reward`` body with ``config``'s limits."""
    max_chars = config.max_chars_per_sample
    max_samples = config.max_samples_per_request
    text = Annotated[str, Field(max_length=max_chars)]

    class GetRewardRequest(BaseModel):
        """OpenRLHF's ``/get_reward`` body: ``query`` is prompt + response as one text.

        Unknown keys are ignored (not rejected) so a newer OpenRLHF client that adds a field keeps working.
        """

        model_config = ConfigDict(extra="ignore")
        query: Annotated[list[text], Field(max_length=max_samples)]  # OpenRLHF 0.11 sends [] to all but one URL
        prompts: Annotated[list[text | None], Field(max_length=max_samples)] | None = None
        labels: Annotated[list[Label], Field(max_length=max_samples)] | None = None

        @model_validator(mode="after")
        def _aligned(self) -> "GetRewardRequest":
            for name in ("prompts", "labels"):
                values = getattr(self, name)
                if values is not None and len(values) != len(self.query):
                    raise ValueError(f"'{name}' has {len(values)} items but 'query' has {len(self.query)}; "
                                     "they must align one to one")
            for i, query in enumerate(self.query):
                prompt = self.prompts[i] if self.prompts else None
                label = self.labels[i] if self.labels else None
                total = len(query) + len(label if isinstance(label, str) else "")
                if total > max_chars:
                    raise ValueError(f"query {i} has {total} characters; this server accepts at most "
                                     f"{max_chars} per sample (--max-chars-per-sample)")
                for value in (query, prompt, label):
                    if isinstance(value, str):
                        check_text(value, f"query {i}")
            return self

    return GetRewardRequest


def _sample_texts(sample: Any):
    if isinstance(sample.prompt, str):
        yield sample.prompt
    else:
        for message in sample.prompt:
            yield message.role
            yield message.content
    yield sample.response
    yield from sample.steps or ()
    if sample.reference is not None:
        yield sample.reference


def query_to_sample(query: str, prompt: str | None, label: Label) -> Sample:
    """Turn one OpenRLHF ``/get_reward`` item into a `Sample`.

    OpenRLHF sends ``query`` = prompt + response rendered as one string and ``prompts`` = the prompt, so
    the response is the query after its prompt prefix. When the prompt is absent or is not a prefix of the
    query, the whole query is the response to an empty prompt. A label becomes the gold ``reference``
    that verifiable rules read.
    """
    reference = None if label is None else str(label)
    if prompt and query.startswith(prompt):
        return Sample(prompt, query[len(prompt):], reference=reference)
    return Sample("", query, reference=reference)
