"""Pairwise adapters: generic text pairs, chat-message pairs (incl. TRL's conversational format), hh-rlhf.

Each takes a `Row` and `FieldKeys` and returns a `PairRecord` with ``source`` set, or raises `DataError`.
"""

from __future__ import annotations

from rewardlab.data import fields
from rewardlab.data.errors import present_keys
from rewardlab.data.keys import FieldKeys
from rewardlab.data.readers import Row
from rewardlab.types import Message, PairRecord, Prompt

HH_ASSISTANT = "\n\nAssistant:"


def pairwise(row: Row, keys: FieldKeys, default_subset: str = "default") -> PairRecord:
    """``prompt, chosen, rejected[, subset, margin, id]``; the prompt may be text or chat messages."""
    return PairRecord(
        prompt=fields.prompt(row, keys.prompt_names()),
        chosen=fields.text(row, keys.chosen_key),
        rejected=fields.text(row, keys.rejected_key),
        **_extras(row, keys, default_subset),
    )


def messages(row: Row, keys: FieldKeys, default_subset: str = "default") -> PairRecord:
    """Chat pairs: ``chosen``/``rejected`` are message lists ending with the assistant's answer.

    Covers three common layouts:
    - whole conversations with no prompt key: prompt = the messages both share before the last one;
    - TRL's conversational format: ``prompt`` is a message list and ``chosen``/``rejected`` hold the
      assistant message(s) that follow it; prompt = ``prompt`` + any shared messages before the last;
    - UltraFeedback-style: ``prompt`` is text and the lists are whole conversations; the shared messages
      (which contain that text as the user turn) become the prompt, so no information is lost.
    The response is the content of the last message, which must be the assistant's. The two lists must
    agree on everything before their last message; where they do not, the row is rejected, naming the
    first message that differs (splitting such a row silently would score different conversations).
    """
    chosen = fields.check_messages(row, keys.chosen_key, fields.require(row, keys.chosen_key)[1])
    rejected = fields.check_messages(row, keys.rejected_key, fields.require(row, keys.rejected_key)[1])
    for name, conversation in ((keys.chosen_key, chosen), (keys.rejected_key, rejected)):
        last = len(conversation) - 1
        if conversation[last]["role"] != "assistant":
            raise row.error(f"expected the last message to be the assistant's answer, found role "
                            f"{conversation[last]['role']!r}", f"{name}[{last}].role")
    shared = chosen[:-1]
    if rejected[:-1] != shared:
        at = next((i for i, (a, b) in enumerate(zip(shared, rejected[:-1])) if a != b),
                  min(len(shared), len(rejected) - 1))
        raise row.error(f"expected the same messages as {keys.chosen_key!r} before the last assistant message; "
                        f"they differ at message {at} ({len(shared)} vs {len(rejected) - 1} shared messages)",
                        keys.rejected_key)
    return PairRecord(
        prompt=_chat_prompt(row, keys, shared),
        chosen=chosen[-1]["content"],
        rejected=rejected[-1]["content"],
        **_extras(row, keys, default_subset),
    )


def _chat_prompt(row: Row, keys: FieldKeys, shared: list[Message]) -> Prompt:
    key = fields.find_key(row, keys.prompt_names())
    if key is None or row.data[key] is None:
        if not shared:
            raise row.error(f"expected a prompt: no {keys.prompt_key!r} key and the conversations hold only the "
                            f"assistant answer; keys present: {present_keys(row.data)}", keys.prompt_key)
        return shared
    given = fields.prompt(row, (key,))
    if isinstance(given, list):
        return given + shared
    return shared if shared else given


def hh_rlhf(row: Row, keys: FieldKeys, default_subset: str = "default") -> PairRecord:
    """Anthropic hh-rlhf whole dialogues: ``chosen``/``rejected`` are ``\\n\\nHuman: ... \\n\\nAssistant: ...``.

    prompt = the longest prefix the two transcripts share that ends with ``"\\n\\nAssistant:"``; each
    response is the rest of its transcript, kept verbatim (``prompt + chosen`` reproduces the original
    exactly, leading space included). Normally that prefix ends at the last Assistant turn and the
    responses are the final answers. When the two transcripts already differ before their last Assistant
    turn (5 of the 2,312 harmless-base test rows), the prompt stops at the last Assistant marker they
    still share, and each response is the whole remaining multi-turn continuation: the human compared
    those continuations, so that is the honest split. A final answer that is empty (the transcript ends
    at ``Assistant:`` plus whitespace) is kept: in hh-rlhf it is a real choice, not a broken row.
    """
    chosen = fields.text(row, keys.chosen_key)
    rejected = fields.text(row, keys.rejected_key)
    end = split_point(chosen, rejected)
    if end < 0:
        where = "either transcript" if HH_ASSISTANT not in chosen else "the part both transcripts share"
        raise row.error(f"expected hh-rlhf transcripts ('\\n\\nHuman: ... \\n\\nAssistant: ...') sharing a "
                        f"prefix that ends at '\\n\\nAssistant:'; found no such marker in {where} (or pass a "
                        f"{keys.prompt_key!r} column for plain pairs)", keys.chosen_key)
    return PairRecord(prompt=chosen[:end], chosen=chosen[end:], rejected=rejected[end:],
                      **_extras(row, keys, default_subset))


def split_point(chosen: str, rejected: str, marker: str = HH_ASSISTANT) -> int:
    """End of the longest common prefix of the two strings that ends with ``marker``; -1 if none."""
    last = chosen.rfind(marker)
    if last < 0:
        return -1
    end = last + len(marker)
    if rejected.startswith(chosen[:end]):  # the usual case: identical up to the last Assistant turn
        return end
    shared = common_prefix_length(chosen, rejected)
    start = chosen.rfind(marker, 0, shared)
    return -1 if start < 0 else start + len(marker)


def common_prefix_length(a: str, b: str) -> int:
    """Length of the longest common prefix, by binary search over C-speed slice comparisons."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _extras(row: Row, keys: FieldKeys, default_subset: str) -> dict:
    return {
        "subset": fields.optional_text(row, keys.subset_key, default_subset),
        "margin": fields.optional_float(row, keys.margin_key),
        "id": fields.optional_text(row, keys.id_key),
        "source": row.source,
    }
