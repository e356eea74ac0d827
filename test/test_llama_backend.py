# Copyright 2026 llm_planner developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""
LlamaBackend over its one LlamaSession: the fast decoder and the reference decoder.

The backend decodes with :class:`FastGrammarDecoder` by default and with the
reference decoder (:func:`plain_greedy_decode`, one token per step, the
whole vocabulary masked) when ``fast_decode`` is off or a request has no
grammar; both work on the same session, the only owner of the model's state.
"""

import os

import llama_cpp
from llm_planner.backends.llama_backend import LlamaBackend
from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding.drafting import plan_guess
from llm_planner.decoding.session import LlamaSession
from llm_planner.planning.grammar import build_gbnf
import pytest

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), 'config')
PROMPTS = ['Go to the kitchen and grab a banana', 'Bring me the cup from the office',
           'Task: fetch a cup\nPlan:\n$cup = SEARCH(object_name:"cup")\n', 'Sing a song',
           'GO(to:$', 'Go to the bedroom']


@pytest.fixture(scope='module')
def gbnf():
    catalog = SkillCatalog.load(os.path.join(CONFIG, 'skills.yaml'))
    semantic_map = SemanticMap.load(os.path.join(CONFIG, 'locations.yaml'))
    return build_gbnf(catalog, semantic_map)


@pytest.fixture(scope='module', params=['bytes', 'bpe'])
def pair(request, tiny_files):
    """Yield a fast backend (drafts, guesses) and a reference one on the same tiny model."""
    path = tiny_files.path(0) if request.param == 'bytes' else tiny_files.path(0, 'bpe')
    fast = LlamaBackend(path, n_ctx=2048, n_threads=1, max_batch=16, guess=plan_guess)
    reference = LlamaBackend(path, n_ctx=2048, n_threads=1, fast_decode=False)
    fast.load()
    reference.load()
    yield fast, reference
    fast.close()
    reference.close()


def consistent(session):
    """Return True when the session's bookkeeping agrees with the KV cache of sequence 0."""
    llama = session.llama
    mem = llama_cpp.llama_get_memory(llama.ctx)
    return llama_cpp.llama_memory_seq_pos_max(mem, 0) == llama.n_tokens - 1


def test_the_reference_decoder_gives_the_fast_decoders_text(pair, gbnf):
    fast, reference = pair
    drafted = 0
    for prompt in PROMPTS:
        a = fast.complete(prompt, gbnf, 64)
        b = reference.complete(prompt, gbnf, 64)
        assert a.text == b.text, prompt
        assert a.tokens_generated == b.tokens_generated
        # The reference takes one token per step, never a drafted one.
        assert b.tokens_forced == 0 and b.tokens_sampled == b.tokens_generated
        drafted += a.tokens_forced
        assert consistent(fast.session) and consistent(reference.session)
    assert drafted > 0  # the fast decoder did use drafts on the way


def test_a_second_request_reuses_the_cached_prompt(pair, gbnf):
    for backend in pair:
        backend.complete(PROMPTS[0], gbnf, 8)
        again = backend.complete(PROMPTS[0], gbnf, 8)
        assert again.tokens_cached == again.tokens_prompt - 1  # only the last token again


def test_a_request_without_a_grammar_takes_the_raw_argmax(pair):
    fast, reference = pair
    a = fast.complete('Go to the kitchen', '', 12)
    b = reference.complete('Go to the kitchen', '', 12)
    assert a.text == b.text and 0 < a.tokens_generated <= 12
    assert consistent(fast.session)


@pytest.mark.parametrize('which', [0, 1], ids=['fast', 'reference'])
def test_a_grammar_llama_cpp_rejects_is_an_internal_error(pair, which):
    backend = pair[which]
    with pytest.raises(PlannerError) as info:
        backend.complete('Go to the kitchen', 'root ::= (', 8)
    assert info.value.code == ErrorCode.INTERNAL_ERROR
    assert 'invalid GBNF grammar' in info.value.message
    assert backend.complete('Go to the kitchen', 'root ::= "ok"', 8).text == 'ok'


def test_the_backend_its_decoders_and_segments_share_one_session(tiny_files, gbnf):
    backend = LlamaBackend(tiny_files.path(0), n_ctx=2048, n_threads=1, max_batch=8,
                           max_segments=2)
    try:
        backend.load()
        session = backend.session
        assert isinstance(session, LlamaSession)
        assert LlamaSession.of(session.llama) is session
        backend.warm('Plan for the robot.\n', segments=['Task: a\n', 'Task: b\n'], reserve=64)
        assert backend.decoder(gbnf).session is session
        assert backend.info()['cached_segments'] == 2
        backend.complete('Plan for the robot.\nTask: b\nTask: a\nGo home\n', gbnf, 16)
        assert consistent(session)
        assert backend.info()['cached_tokens'] == session.n_cached
    finally:
        backend.close()
    assert backend.session is None and not backend.loaded


def test_warming_again_on_the_cached_prefix_evaluates_nothing(tiny_files):
    """A second warm() (another planner on the same backend) keeps the prefix's KV as it is."""
    backend = LlamaBackend(tiny_files.path(0), n_ctx=2048, n_threads=1)
    try:
        backend.load()
        backend.warm('Plan for the robot.\n')
        session = backend.session
        ran = []
        real_run = session.run
        session.run = lambda tokens, *a, **k: (ran.append(list(tokens)), real_run(tokens, *a, **k))
        try:
            backend.warm('Plan for the robot.\n')
            assert ran == []
            backend.warm('Plan for the robot!\n')  # another prefix is evaluated
            assert ran
        finally:
            del session.run
    finally:
        backend.close()
