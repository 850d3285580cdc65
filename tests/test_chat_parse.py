"""Chat-templated text back into messages, for four template shapes (ChatML with a default system prompt,
header/eot turns with the bos in the template, no system role, newline-terminated turns)."""

from __future__ import annotations

import pytest

from chat_templates import TEMPLATES
from rewardlab.serve.chat_parse import ChatTemplateParser, TemplateParseError
from rewardlab.testing import tiny_tokenizer

CONVERSATION = [{"role": "user", "content": "line one\nline two"}, {"role": "assistant", "content": "ok"},
                {"role": "user", "content": "and then?"}]


@pytest.fixture(params=sorted(TEMPLATES))
def parser(request):
    tok = tiny_tokenizer()
    tok.chat_template = TEMPLATES[request.param]
    return ChatTemplateParser(tok, request.param)


def test_a_rendered_conversation_splits_into_its_messages_and_answer(parser):
    tok = parser.tokenizer
    full = tok.apply_chat_template([*CONVERSATION, {"role": "assistant", "content": "the answer\nis 7"}],
                                   tokenize=False)
    assert parser.split(full) == (CONVERSATION, "the answer\nis 7")
    prompt = tok.apply_chat_template(CONVERSATION, tokenize=False, add_generation_prompt=True)
    assert parser.split(prompt + "generated" + tok.eos_token + tok.pad_token * 3) == (CONVERSATION, "generated")
    assert parser.parse_prompt(prompt) == CONVERSATION
    assert parser.parse_prompt(prompt + "more") is None


def test_system_messages_and_bos_variants(parser):
    tok = parser.tokenizer
    if parser.markup.head_system is None:  # this template refuses system turns
        with pytest.raises(Exception, match="System role not supported"):
            tok.apply_chat_template([{"role": "system", "content": "s"}, *CONVERSATION], tokenize=False)
        return
    messages = [{"role": "system", "content": "be brief"}, *CONVERSATION]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert parser.split(prompt + "x")[0] == messages
    bos = tok.bos_token
    other = prompt[len(bos):] if prompt.startswith(bos) else bos + prompt  # a policy that adds/omits the bos
    assert parser.split(other + "x") == (messages, "x")


def test_text_not_in_the_template_is_refused(parser):
    with pytest.raises(TemplateParseError, match="not a conversation in"):
        parser.split("Human: hi\n\nAssistant: hello")
    tok = parser.tokenizer
    prompt = tok.apply_chat_template(CONVERSATION[:1], tokenize=False, add_generation_prompt=True)
    with pytest.raises(TemplateParseError):
        parser.split(prompt.replace(parser.markup.generation, ""))  # the assistant turn never starts
