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
FastGrammarDecoder gives exactly plain greedy grammar-constrained decoding.

On two tiny random models: one with a byte vocabulary (every forced
character is one token, drafts always verify) and one with multi-character
SentencePiece pieces of the plan language (token boundaries fall inside and
across forced text, so drafts are rejected and rolled back).

The tiny models are f32: llama.cpp evaluates a batch of tokens with other
kernels than a single token, and their logits differ by ~1e-7, which
``measure_exact_batch`` detects (it returns 1: no jump-forward). The tests
set ``max_batch`` to exercise jump-forward anyway; such differences are far
below these random models' logit gaps, so outputs still agree token for token.
"""

import os

import llama_cpp
from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding import fast_decode, greedy
from llm_planner.decoding.drafting import lookups, plan_guess
from llm_planner.decoding.fast_decode import FastGrammarDecoder
from llm_planner.decoding.gbnf_nfa import GrammarMatcher
from llm_planner.decoding.greedy import plain_greedy_decode
from llm_planner.planning.grammar import build_gbnf
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
MAX_TOKENS = 96
BATCH = 16  # max_batch of the tests' decoders (see the module docstring)

PROMPTS = [
    'Go to the kitchen and grab a banana',
    'Bring me the cup from the office',
    'Go to the bedroom',
    'Find my keys',
    'Search for an apple in the living room and grab it',
    'Go to the garage',
    'Sing a song',
    'Come back here',
    'Go to the kitchen, then to the office, then come back',
    'Grab the bottle',
    'Task: go to the bathroom\nPlan:\n',
    'Task: fetch a cup\nPlan:\n$cup = SEARCH(object_name:"cup")\n',
    'Va dans la cuisine et prends une pomme',
    'Look for the remote in the lounge',
    'Where am I?',
    'go to the entrance and wait',
    'Robot, find the red ball and bring it to the study',
    'ERROR',
    '$kitchen = GET_LOCATION(location_name:"',
    'GO(to:$',
    'Take the banana from the kitchen to the bedroom',
    'Check the front door',
    'x',
    'Plan:\n',
]


FORCED_TEXT = '$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)'
FORCED_GBNF = 'root ::= "' + FORCED_TEXT.replace('"', '\\"').replace('\n', '\\n') + '"\n'


def plan_grammar(strict_places):
    catalog = SkillCatalog.load(os.path.join(ROOT, 'config', 'skills.yaml'))
    semantic_map = SemanticMap.load(os.path.join(ROOT, 'config', 'locations.yaml'))
    return build_gbnf(catalog, semantic_map, strict_places=strict_places)


@pytest.fixture(scope='module')
def model_paths(tiny_files):
    return {'bytes': tiny_files.path(0), 'bpe': tiny_files.path(0, 'bpe'),
            'bpe1': tiny_files.path(1, 'bpe')}


@pytest.fixture(scope='module')
def models(model_paths):
    return {name: llama_cpp.Llama(path, n_ctx=2048, n_threads=2, verbose=False)
            for name, path in model_paths.items()}


@pytest.fixture(scope='module')
def grammars():
    return {strict: plan_grammar(strict) for strict in (False, True)}


def kv_consistent(llama):
    """Return True when Llama's bookkeeping matches the KV cache of sequence 0."""
    mem = llama_cpp.llama_get_memory(llama.ctx)
    return llama_cpp.llama_memory_seq_pos_max(mem, 0) == llama.n_tokens - 1


def check_output(result, matcher):
    """Check that the output is a prefix of the grammar and that complete outputs parse."""
    assert result.n_sampled + result.n_forced == len(result.tokens)
    if '\ufffd' in result.text:
        return False  # bytes Python does not decode (llama.cpp's UTF-8 is laxer)
    state = matcher.advance(matcher.start(), result.text)
    assert state is not None, result.text
    if result.stop_reason != 'eog':
        return False
    assert matcher.is_accepting(state), result.text
    try:
        steps = parse_program(result.text)
        assert steps
    except PlannerError as e:
        assert e.code == ErrorCode.UNSUPPORTED_TASK
        assert result.text.strip() == 'ERROR'
    return True


@pytest.mark.parametrize('model', ['bytes', 'bpe', 'bpe1'])
@pytest.mark.parametrize('strict', [False, True], ids=['free_places', 'strict_places'])
def test_identical_to_plain_greedy(models, grammars, model, strict):
    llama, gbnf = models[model], grammars[strict]
    matcher = GrammarMatcher(gbnf)
    # Drafts from forced text only, then with prompt lookup and plan guesses.
    forced_only = [FastGrammarDecoder(llama, gbnf, max_batch=BATCH, lookup=False),
                   FastGrammarDecoder(llama, gbnf, max_batch=BATCH,
                                      lookup=False)]
    guessing = [FastGrammarDecoder(llama, gbnf, max_batch=BATCH, guess=plan_guess),
                FastGrammarDecoder(llama, gbnf, max_batch=BATCH),
                FastGrammarDecoder(llama, gbnf, max_candidates=1, max_batch=3,
                                   guess=plan_guess),
                FastGrammarDecoder(llama, gbnf, guess=plan_guess)]
    totals = {kind: {'forced': 0, 'rollbacks': 0, 'drafted': 0}
              for kind in ('forced_only', 'guessing')}
    complete = 0
    for prompt in PROMPTS:
        plain = plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS)
        assert kv_consistent(llama)
        complete += check_output(plain, matcher)
        for kind, decoders in (('forced_only', forced_only), ('guessing', guessing)):
            for decoder in decoders:
                fast = decoder.decode(prompt, MAX_TOKENS)
                assert kv_consistent(llama)
                assert fast.tokens == plain.tokens, prompt
                assert fast.text == plain.text
                assert fast.stop_reason == plain.stop_reason
                check_output(fast, matcher)
                assert fast.n_full_masks <= plain.n_full_masks
                totals[kind]['forced'] += fast.n_forced
                totals[kind]['rollbacks'] += fast.n_rollbacks
                totals[kind]['drafted'] += fast.n_drafted
    assert complete > 0
    assert totals['forced_only']['forced'] > 0
    # Guesses are drafts beyond the forced text: more is drafted, some is wrong.
    assert totals['guessing']['drafted'] > totals['forced_only']['drafted']
    assert totals['guessing']['rollbacks'] > 0
    if model.startswith('bpe'):
        # Token boundaries inside forced text: some drafts are rejected.
        assert totals['forced_only']['rollbacks'] > 0
    else:
        # One token per character: the forced text is the only admissible spelling.
        assert totals['forced_only']['rollbacks'] == 0


def test_fully_forced_grammar_rolls_back(models):
    """A grammar with one string: plain decoding spells it; fast decoding must agree."""
    gbnf = FORCED_GBNF
    llama = models['bpe']
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    rollbacks = forced = 0
    for prompt in PROMPTS[:12]:
        plain = plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS)
        assert plain.text == FORCED_TEXT
        fast = decoder.decode(prompt, MAX_TOKENS)
        assert fast.tokens == plain.tokens
        assert fast.stop_reason == plain.stop_reason == 'eog'
        # Everything after the first token is forced: one batch per rollback.
        assert fast.n_batches == fast.n_rollbacks + 1
        rollbacks += fast.n_rollbacks
        forced += fast.n_forced
    assert rollbacks > 0 and forced > 0
    # The drafted spelling is not greedy's: several spellings were taken.
    assert len({tuple(plain_greedy_decode(llama, gbnf, p, MAX_TOKENS).tokens)
                for p in PROMPTS[:12]}) > 1


@pytest.mark.parametrize('model', ['bytes', 'bpe'])
@pytest.mark.parametrize('max_tokens', [0, 1, 2, 3, 5, 8, 13])
def test_max_tokens(models, grammars, model, max_tokens):
    llama, gbnf = models[model], grammars[True]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    for prompt in PROMPTS[:6]:
        plain = plain_greedy_decode(llama, gbnf, prompt, max_tokens)
        fast = decoder.decode(prompt, max_tokens)
        assert fast.tokens == plain.tokens
        assert len(fast.tokens) <= max_tokens
        assert fast.stop_reason == plain.stop_reason
        assert kv_consistent(llama)


def test_small_batches(model_paths, grammars):
    """Drafts and prompts longer than n_batch are split; the output does not change."""
    llama = llama_cpp.Llama(model_paths['bpe'], n_ctx=512, n_batch=4, n_ubatch=4,
                            n_threads=2, verbose=False)
    gbnf = grammars[True]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    assert decoder.max_batch == BATCH
    forced = 0
    for prompt in PROMPTS[:8]:
        plain = plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS)
        fast = decoder.decode(prompt, MAX_TOKENS)
        assert fast.tokens == plain.tokens
        forced += fast.n_forced
    assert forced > 0


def test_context_full(model_paths, grammars):
    llama = llama_cpp.Llama(model_paths['bytes'], n_ctx=256, n_threads=2, verbose=False)
    n_ctx = llama.n_ctx()
    prompt = [1] + [3 + ord('a')] * (n_ctx - 20)
    for gbnf in (grammars[False], FORCED_GBNF):
        decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
        plain = plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS)
        fast = decoder.decode(prompt, MAX_TOKENS)
        assert fast.tokens == plain.tokens
        assert plain.stop_reason == fast.stop_reason == 'context_full'
        assert len(prompt) + len(plain.tokens) == n_ctx + 1
        assert kv_consistent(llama)
    # The forced text is longer than the room left: drafts were cut to fit.
    assert fast.n_forced > 0
    with pytest.raises(PlannerError) as info:
        decoder.decode([1] * n_ctx, MAX_TOKENS)
    assert info.value.code == ErrorCode.CONTEXT_OVERFLOW


def test_prefix_reuse(models, grammars):
    llama, gbnf = models['bpe'], grammars[False]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    head = 'Task: go to the kitchen and grab the banana, then come back to me.\n'
    first = decoder.decode(head + 'Plan:\n', MAX_TOKENS)
    again = decoder.decode(head + 'Plan:\n', MAX_TOKENS)
    assert again.n_prompt_evaluated == 1
    assert again.tokens == first.tokens
    other = decoder.decode(head + 'Program:\n', MAX_TOKENS)
    assert 1 < other.n_prompt_evaluated < other.n_prompt_tokens - 10
    # From an empty cache: the same tokens.
    llama.reset()
    fresh = plain_greedy_decode(llama, gbnf, head + 'Program:\n', MAX_TOKENS)
    assert fresh.n_prompt_evaluated == fresh.n_prompt_tokens
    assert fresh.tokens == other.tokens


def test_token_prompt_equals_text_prompt(models, grammars):
    llama, gbnf = models['bpe'], grammars[False]
    decoder = FastGrammarDecoder(llama, gbnf)
    text = 'Go to the kitchen and grab a banana'
    tokens = llama.tokenize(text.encode(), add_bos=True, special=True)
    assert decoder.decode(text, MAX_TOKENS).tokens == decoder.decode(tokens, MAX_TOKENS).tokens


def test_llama_prefix_reuse_still_works_after(models, grammars):
    """Llama's own generation after ours: same result as plain decoding, cache consistent."""
    llama, gbnf = models['bpe'], grammars[True]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
    compared = 0
    for prompt in PROMPTS[:10]:
        fast = decoder.decode(prompt, MAX_TOKENS)
        out = llama.create_completion(prompt, max_tokens=MAX_TOKENS, temperature=0.0,
                                      grammar=grammar)
        text = out['choices'][0]['text']
        plain = plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS)
        assert plain.tokens == fast.tokens
        assert kv_consistent(llama)
        expected = llama.detokenize(plain.tokens)
        if expected.isascii():
            assert text == expected.decode()
            compared += 1
    assert compared >= 3


def test_deadline(models, grammars, monkeypatch):
    llama, gbnf = models['bytes'], grammars[False]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    prompt = PROMPTS[0]
    with pytest.raises(PlannerError) as info:
        decoder.decode(prompt, MAX_TOKENS, deadline=fast_decode.time.monotonic() - 1.0)
    assert info.value.code == ErrorCode.TIMEOUT
    with pytest.raises(PlannerError) as info:
        plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS, deadline=0.0)
    assert info.value.code == ErrorCode.TIMEOUT

    # A clock that advances one second per reading: the deadline passes mid-decoding.
    class Clock:
        now = 0.0

        def monotonic(self):
            Clock.now += 1.0
            return Clock.now

    clock = Clock()
    monkeypatch.setattr(fast_decode, 'time', clock)
    monkeypatch.setattr(greedy, 'time', clock)
    with pytest.raises(PlannerError) as info:
        decoder.decode(prompt, MAX_TOKENS, deadline=8.0)
    assert info.value.code == ErrorCode.TIMEOUT
    assert 'decode' in str(info.value)  # past the prompt: mid-decoding
    monkeypatch.undo()
    assert kv_consistent(llama)
    fast = decoder.decode(prompt, MAX_TOKENS)
    assert fast.tokens == plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS).tokens


@pytest.mark.parametrize('model', ['bytes', 'bpe'])
def test_draft_tokens_spell_the_text(models, grammars, model):
    llama = models[model]
    decoder = FastGrammarDecoder(llama, grammars[False])
    for text in ['OCATION(location_name:"', 'RROR', 'ET_', '= ', 'EARCH(object_name:"',
                 'URRENT_LOCATION()', 'en")', '(to:$', 'AB(where:$', '\u00e9t\u00e9"']:
        toks = decoder.draft_tokens(text)
        assert b''.join(decoder.session.piece(t) for t in toks) == text.encode()


def test_multichar_draft_is_canonical(models, grammars):
    llama = models['bpe']
    decoder = FastGrammarDecoder(llama, grammars[False])
    toks = decoder.draft_tokens('location_name:"')
    assert len(toks) == 1
    assert toks == llama.tokenize(b'location_name:"', add_bos=False)


def test_first_draft_is_the_nearest_examples_first_line(models, grammars):
    # The task ends like the first example's task ("... the office"); the
    # nearest example (the last one) is what the first draft follows.
    prompt = ('<|im_start|>user\nGo to the office<|im_end|>\n<|im_start|>assistant\n'
              '$office = GET_LOCATION(location_name:"office")\nGO(to:$office)<|im_end|>\n'
              '<|im_start|>user\nFind a pen<|im_end|>\n<|im_start|>assistant\n'
              '$pen = SEARCH(object_name:"pen")<|im_end|>\n'
              '<|im_start|>user\nFind the book in the office<|im_end|>\n'
              '<|im_start|>assistant\n')
    decoder = FastGrammarDecoder(models['bpe'], grammars[False], max_batch=BATCH)
    text = decoder.draft_text('', decoder.matcher.start(), prompt, 200)
    assert text.startswith('$pen = SEARCH(object_name:"')
    # what the longest match would draft
    assert next(lookups('', prompt)).startswith('$office')


def test_no_draft_after_a_line_ended_without_its_break(models, grammars):
    # ``)`` where the vocabulary has ``)\n``, where the plan may end: the model
    # is ending the answer, and a drafted next line would be evaluated for
    # nothing.
    decoder = FastGrammarDecoder(models['bpe'], grammars[False], max_batch=BATCH)
    paren, paren_nl = decoder.draft_tokens(')') + decoder.draft_tokens(')\n')
    assert decoder.session.piece(paren_nl) == b')\n'

    def tracker(text):
        followed = fast_decode._TextTracker(decoder.matcher)
        followed.feed(text.encode())
        return followed

    plan = '$a = GET_LOCATION(location_name:"a")\nGO(to:$a)'
    assert decoder._ends_here(paren, tracker(plan))
    assert not decoder._ends_here(paren_nl, tracker(plan + '\n'))  # it goes on
    assert not decoder._ends_here(paren, tracker(plan[:-1] + ', x)'))  # not a plan
    assert not decoder._ends_here(paren, tracker('$a = GET_LOCATION(location_name:"a)'))


def test_jump_forward_off_is_plain_with_check_first(models, grammars):
    llama, gbnf = models['bpe'], grammars[False]
    decoder = FastGrammarDecoder(llama, gbnf, jump_forward=False)
    for prompt in PROMPTS[:6]:
        fast = decoder.decode(prompt, MAX_TOKENS)
        assert fast.n_forced == 0 and fast.n_rollbacks == 0
        assert fast.tokens == plain_greedy_decode(llama, gbnf, prompt, MAX_TOKENS).tokens


def test_bad_grammar(models):
    with pytest.raises(ValueError):
        FastGrammarDecoder(models['bytes'], 'root ::= (')
    with pytest.raises(ValueError, match='recursive'):
        FastGrammarDecoder(models['bytes'], 'root ::= "x" root?')


def test_measure_exact_batch(models, grammars):
    """The measurement compares bitwise and leaves the cache as it found it."""
    llama, gbnf = models['bpe'], grammars[False]
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=BATCH)
    plain = plain_greedy_decode(llama, gbnf, PROMPTS[0], MAX_TOKENS)
    n_tokens, cached = llama.n_tokens, list(llama.input_ids[:llama.n_tokens])
    # f32 batches differ from single tokens by rounding only: not exact.
    assert decoder.measure_exact_batch() == 1
    assert llama.n_tokens == n_tokens and list(llama.input_ids[:n_tokens]) == cached
    assert kv_consistent(llama)
    again = decoder.decode(PROMPTS[0], MAX_TOKENS)
    assert again.n_prompt_evaluated == 1 and again.tokens == plain.tokens

    # A model whose batches of up to 3 tokens are exact, larger ones not:
    # logits depend on the position and the token only, plus noise in big batches.
    session = decoder.session
    real_run, real_logits = session.run, session.logits
    last = {}

    def run(tokens, all_logits):
        last['start'], last['tokens'] = llama.n_tokens, list(tokens)
        real_run(tokens, all_logits)

    def logits(i):
        i = i if i >= 0 else len(last['tokens']) + i
        out = np.full(session.n_vocab, (last['start'] + i) * 1000.0 + last['tokens'][i])
        return out + 1e-3 if len(last['tokens']) > 3 else out

    session.run, session.logits = run, logits
    try:
        assert decoder.measure_exact_batch() == 3
        assert decoder.measure_exact_batch(limit=2) == 2
    finally:
        session.run, session.logits = real_run, real_logits
    assert kv_consistent(llama)
    auto = FastGrammarDecoder(llama, gbnf)
    assert auto.max_batch == 1 and not auto.jump_forward
    assert auto.decode(PROMPTS[0], MAX_TOKENS).tokens == plain.tokens
