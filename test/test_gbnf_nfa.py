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
Tests of the GBNF matcher, against hand-written cases and against llama.cpp.

llama.cpp's own grammar sampler is the oracle: with a byte vocabulary
(one token per byte) it says, byte by byte, whether a text is still a
prefix of the grammar and, through the end-of-generation token, whether it is
complete.
"""

import ctypes
import os
import random
import re

import llama_cpp
from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding.gbnf_nfa import GrammarError, GrammarMatcher, MANY, parse_gbnf
from llm_planner.planning.grammar import build_gbnf
from llm_planner.testing.tiny_model import EOS_ID
from llm_planner.testing.tiny_model_bpe import write_tiny_bpe_gguf
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
BYTE0 = 3  # id of <0x00> in the tiny vocabularies

PROGRAM = ('$kitchen = GET_LOCATION(location_name:"kitchen")\n'
           'GO(to:$kitchen)\n'
           '$banana = SEARCH(object_name:"banana")\n'
           'GRAB(where:$banana)')


def plan_grammar(strict_places=False, max_steps=16):
    catalog = SkillCatalog.load(os.path.join(ROOT, 'config', 'skills.yaml'))
    semantic_map = SemanticMap.load(os.path.join(ROOT, 'config', 'locations.yaml'))
    return build_gbnf(catalog, semantic_map, max_steps=max_steps, strict_places=strict_places)


@pytest.fixture(scope='module', params=[False, True], ids=['free_places', 'strict_places'])
def strict(request):
    return request.param


@pytest.fixture(scope='module')
def gbnf(strict):
    return plan_grammar(strict_places=strict)


@pytest.fixture(scope='module')
def matcher(gbnf):
    return GrammarMatcher(gbnf)


class Oracle:
    """llama.cpp's grammar sampler over a byte vocabulary."""

    def __init__(self, path):
        self.llama = llama_cpp.Llama(path, vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)

    def _admits(self, sampler, token):
        one = llama_cpp.llama_token_data(token, 0.0, 0.0)
        arr = llama_cpp.llama_token_data_array(ctypes.pointer(one), 1, -1, False)
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(arr))
        return arr.data[0].logit != float('-inf')

    def judge(self, gbnf, text):
        """Return (index of the first rejected character or None, complete)."""
        sampler = llama_cpp.llama_sampler_init_grammar(self.vocab, gbnf.encode(), b'root')
        assert sampler, 'llama.cpp rejected the grammar'
        try:
            for i, ch in enumerate(text):
                for b in ch.encode('utf-8'):
                    if not self._admits(sampler, BYTE0 + b):
                        return i, False
                    llama_cpp.llama_sampler_accept(sampler, BYTE0 + b)
            return None, self._admits(sampler, EOS_ID)
        finally:
            llama_cpp.llama_sampler_free(sampler)


@pytest.fixture(scope='module')
def oracle(tmp_path_factory):
    path = tmp_path_factory.mktemp('nfa') / 'bytes.gguf'
    return Oracle(write_tiny_bpe_gguf(str(path), pieces=()))


def ours(matcher, text):
    """Return (index of the first rejected character or None, complete)."""
    state = matcher.start()
    for i, ch in enumerate(text):
        state = matcher.advance(state, ch)
        if state is None:
            return i, False
    return None, matcher.is_accepting(state)


POOL = ('abcxyz_09AZ ()$:"\\\n=,.-\'\t\x01\x7f\u00e9\u20ac\u4e2d\U0001f600'
        'EGSRO')


def random_walk(matcher, rng, max_len=160, stop=0.3):
    """Return a random text the matcher admits as a prefix (often complete)."""
    state, out = matcher.start(), []
    while len(out) < max_len:
        if matcher.is_accepting(state) and rng.random() < stop:
            break
        allowed = matcher.allowed(state)
        if allowed == MANY:
            choices = [c for c in POOL if matcher.advance(state, c) is not None]
            if rng.random() < 0.3:
                choices += [chr(rng.randrange(0x20, 0x3000))]
        else:
            choices = sorted(allowed)
        if not choices:
            break
        ch = rng.choice(choices)
        nxt = matcher.advance(state, ch)
        if nxt is None:
            break
        out.append(ch)
        state = nxt
    return ''.join(out)


def mutate(text, rng):
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(3)
        pos = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice(POOL))
        elif chars:
            chars[min(pos, len(chars) - 1)] = rng.choice(POOL)
    return ''.join(chars)


# --- the plan grammar: hand-written cases ------------------------------------

POSITIVE = [
    'ERROR',
    'ERROR\n',
    PROGRAM,
    PROGRAM + '\n',
    'GET_CURRENT_LOCATION()',
    '$here = GET_CURRENT_LOCATION()\nGO(to:$here)',
    'GO(to:$a)',
    'GRAB(where:$b_2)',
    '$x = GET_LOCATION(location_name:"office")',
    '$x = GET_LOCATION(location_name:"salle_de_bain")',
    '$x = SEARCH(object_name:"red cup")',
    'SEARCH(object_name:"caf\u00e9 \u4e2d \U0001f600")',
    'SEARCH(object_name:"' + 'x' * 48 + '")',
    'GO(to:$' + 'a' * 24 + ')',
    '\n'.join(['GET_CURRENT_LOCATION()'] * 16),
]

NEGATIVE = [
    '',
    '\n',
    'ERROR\nERROR',
    'ERROR\n\n',
    PROGRAM + '\n\n',
    ' GO(to:$a)',
    'GO(to:$a) ',
    'GO(to:$a)\n\nGO(to:$a)',
    'GO(to:$A)',
    'GO(to:$1a)',
    'GO(to:$)',
    'GO(to:"kitchen")',
    'GO(to:$a',
    'GO (to:$a)',
    'FLY(to:$a)',
    'go(to:$a)',
    '$x = GO(to:$a)',
    '$x = GRAB(where:$a)',
    'SEARCH(object_name:$thing)',
    'SEARCH(object_name:"")',
    'SEARCH(object_name:"a"b")',
    'SEARCH(object_name:"a\\"b")',
    'SEARCH(object_name:"a$b")',
    'SEARCH(object_name:"a\x01b")',
    'SEARCH(object_name:"a\nb")',
    'SEARCH(object_name:"a\x7fb")',
    'SEARCH(object_name:"' + 'x' * 49 + '")',
    'GO(to:$' + 'a' * 25 + ')',
    '\n'.join(['GET_CURRENT_LOCATION()'] * 17),
    'GET_LOCATION(location_name:"kitchen"',
    'GET_LOCATION(location_name:kitchen)',
]


@pytest.mark.parametrize('text', POSITIVE)
def test_plan_grammar_accepts(matcher, text):
    assert matcher.fullmatch(text)


@pytest.mark.parametrize('text', NEGATIVE)
def test_plan_grammar_rejects(matcher, text):
    assert not matcher.fullmatch(text)


def test_unknown_place_only_without_strict_places(matcher, strict):
    text = '$x = GET_LOCATION(location_name:"garage")'
    assert matcher.fullmatch(text) is not strict
    assert matcher.fullmatch('$x = GET_LOCATION(location_name:"kitchen")')
    assert matcher.fullmatch('$x = GET_LOCATION(location_name:"cuisine")')


def test_advance_and_dead_state(matcher):
    state = matcher.advance(matcher.start(), 'GO(to:$kit')
    assert state is not None
    assert not matcher.is_accepting(state)
    assert matcher.advance(state, '"') is None
    assert matcher.advance(None, 'x') is None
    assert matcher.advance(state, '') == state
    assert not matcher.is_accepting(None)
    assert matcher.allowed(None) == frozenset()
    assert matcher.forced_continuation(None) == ''
    done = matcher.advance(state, 'chen)')
    assert matcher.is_accepting(done)
    assert matcher.allowed(done) == frozenset('\n')


@pytest.mark.parametrize('prefix, forced', [
    ('E', 'RROR'),
    ('ERROR', ''),
    ('S', 'EARCH(object_name:"'),
    ('$k = S', 'EARCH(object_name:"'),
    ('$k = G', 'ET_'),
    ('$k = GET_L', 'OCATION(location_name:"'),
    ('$k = GET_C', 'URRENT_LOCATION()'),
    ('GET_CURRENT_LOCATION(', ')'),
    ('GO', '(to:$'),
    ('GR', 'AB(where:$'),
    ('G', ''),
    ('GE', 'T_'),
    ('$', ''),
    ('$k', ''),
    ('$k ', '= '),
    ('GRAB(where:$banana', ''),
    ('GRAB(where:$banana)', ''),
    ('SEARCH(object_name:"banana', ''),
    ('', ''),
])
def test_forced_continuation(matcher, prefix, forced):
    state = matcher.advance(matcher.start(), prefix)
    assert state is not None
    assert matcher.forced_continuation(state) == forced


def test_forced_continuation_of_places(strict):
    matcher = GrammarMatcher(plan_grammar(strict_places=strict))
    state = matcher.advance(matcher.start(), '$k = GET_LOCATION(location_name:"kitch')
    assert matcher.forced_continuation(state) == ('en")' if strict else '')
    state = matcher.advance(matcher.start(), '$k = GET_LOCATION(location_name:"salle')
    assert matcher.forced_continuation(state) == ('_de_bain")' if strict else '')
    # "bathroom" / "bedroom" / "bureau" share the b: nothing forced.
    state = matcher.advance(matcher.start(), '$k = GET_LOCATION(location_name:"b')
    assert matcher.forced_continuation(state) == ''
    assert matcher.forced_continuation(state, max_chars=0) == ''
    state = matcher.advance(matcher.start(), 'E')
    assert matcher.forced_continuation(state, max_chars=2) == 'RR'


def test_allowed(matcher, strict):
    start = matcher.start()
    assert matcher.allowed(start) == frozenset('$EGS')
    var = matcher.advance(start, 'GRAB(where:$banana')
    assert matcher.allowed(var) == frozenset(')0123456789_abcdefghijklmnopqrstuvwxyz')
    string = matcher.advance(start, 'SEARCH(object_name:"')
    assert matcher.allowed(string) == MANY
    place = matcher.advance(start, '$k = GET_LOCATION(location_name:"')
    if strict:
        assert matcher.allowed(place) == frozenset('kclsbeofe')
    else:
        assert matcher.allowed(place) == MANY


# --- the plan grammar against llama.cpp ----------------------------------------

def test_plan_grammar_agrees_with_llama_cpp(matcher, gbnf, oracle):
    rng = random.Random(1234)
    texts = POSITIVE + NEGATIVE
    for _ in range(150):
        text = random_walk(matcher, rng)
        texts += [text, mutate(text, rng)]
    complete = rejected = 0
    for text in texts:
        expected = oracle.judge(gbnf, text)
        assert ours(matcher, text) == expected, repr(text)
        complete += expected[1]
        rejected += expected[0] is not None
    # Both kinds are well represented.
    assert complete > 50 and rejected > 50


def test_small_max_steps_grammar():
    matcher = GrammarMatcher(plan_grammar(max_steps=1))
    assert matcher.fullmatch('GO(to:$a)')
    assert not matcher.fullmatch('GO(to:$a)\nGO(to:$a)')
    state = matcher.advance(matcher.start(), 'GO(to:$a)')
    assert matcher.allowed(state) == frozenset('\n')


# --- the GBNF subset -----------------------------------------------------------

FEATURE_GRAMMARS = {
    'escapes': r'root ::= "a\x41\n\t\\\"\u00e9\U0001F600" [\x30-\x39\]\-]',
    'classes': 'root ::= [a-cx] [^a-z\\x00-\\x1f] [^"\\\\]',
    'repeats': 'root ::= "a"{2} "b"{1,3} "c"{2,} ("d" | "e")* "f"+ "g"?',
    'rules': '# comment\nroot ::= item ("," item){0,2}  # trailing\n'
             'item ::= word | num\nword ::= [a-z]+\nnum ::= [0-9]{1,3}\n',
    'multiline': 'root ::= (\n  "x"\n  | "yy"\n) "z"\n\nother ::= "q"\n',
    'dot': 'root ::= "<" . . ">"',
    'empty': 'root ::= "a" ( | "b") "c"',
}


@pytest.mark.parametrize('name', sorted(FEATURE_GRAMMARS))
def test_subset_agrees_with_llama_cpp(name, oracle):
    gbnf = FEATURE_GRAMMARS[name]
    matcher = GrammarMatcher(gbnf)
    rng = random.Random(name)
    texts = []
    for _ in range(120):
        text = random_walk(matcher, rng, max_len=30, stop=0.4)
        texts += [text, mutate(text, rng)]
    complete = 0
    for text in texts:
        expected = oracle.judge(gbnf, text)
        assert ours(matcher, text) == expected, repr(text)
        complete += expected[1]
    assert complete > 10


def test_subset_cases():
    m = GrammarMatcher(FEATURE_GRAMMARS['escapes'])
    assert m.fullmatch('aA\n\t\\"\u00e9\U0001F6005')
    assert m.fullmatch('aA\n\t\\"\u00e9\U0001F600]')
    assert m.fullmatch('aA\n\t\\"\u00e9\U0001F600-')
    assert not m.fullmatch('aA\n\t\\"\u00e9\U0001F600a')
    m = GrammarMatcher(FEATURE_GRAMMARS['repeats'])
    assert m.fullmatch('aabccf')
    assert m.fullmatch('aabbbcccccdedeffg')
    assert not m.fullmatch('aabbbbccf')
    assert not m.fullmatch('aabcf')
    assert not m.fullmatch('abccf')
    m = GrammarMatcher(FEATURE_GRAMMARS['rules'])
    assert m.fullmatch('abc,12,x')
    assert not m.fullmatch('abc,12,x,y')
    assert not m.fullmatch('1234')
    m = GrammarMatcher(FEATURE_GRAMMARS['multiline'])
    assert m.fullmatch('xz') and m.fullmatch('yyz') and not m.fullmatch('q')
    m = GrammarMatcher(FEATURE_GRAMMARS['classes'])
    assert m.fullmatch('xA$') and not m.fullmatch('xa$') and not m.fullmatch('xA"')
    assert m.allowed(m.start()) == frozenset('abcx')
    assert m.allowed(m.advance(m.start(), 'x')) == MANY
    m = GrammarMatcher(FEATURE_GRAMMARS['empty'])
    assert m.fullmatch('ac') and m.fullmatch('abc')


def test_allowed_lists_up_to_the_limit():
    m = GrammarMatcher('root ::= [a-z] | [\\u0100-\\u01ff]')
    assert m.allowed(m.start()) == MANY
    m = GrammarMatcher('root ::= [\\u0100-\\u01ff]')
    assert len(m.allowed(m.start())) == 256


def test_parse_gbnf_shapes():
    rules = parse_gbnf('root ::= a "x"?\na ::= [^b]*\n')
    assert set(rules) == {'root', 'a'}
    assert rules['root'] == ('seq', (('ref', 'a'), ('rep', ('lit', 'x'), 0, 1)))
    assert rules['a'] == ('rep', ('cls', ((ord('b'), ord('b')),), True), 0, None)


@pytest.mark.parametrize('gbnf, message', [
    ('root ::= a\na ::= "x" a?\n', 'recursive'),
    ('root ::= "(" root ")" | "x"\n', 'recursive'),
    ('root ::= b\n', 'undefined rule b'),
    ('start ::= "x"\n', 'no root rule'),
    ('root ::= "x"\nroot ::= "y"\n', 'defined twice'),
    ('root ::= "x\n', 'unterminated string'),
    ('root ::= [a-\n', 'unterminated character class'),
    ('root ::= [z-a]\n', 'empty range'),
    ('root ::= "x"{3,1}\n', 'bad repetition'),
    ('root ::= "x"{a}\n', 'repetition count'),
    ('root ::= ("x"\n', 'expected )'),
    ('root ::= "\\q"\n', 'unknown escape'),
    ('root ::= "\\x4"\n', 'bad \\x escape'),
    ('root "x"\n', 'expected ::='),
    ('root ::= @\n', "unexpected '@'"),
])
def test_errors(gbnf, message):
    with pytest.raises(GrammarError, match=re.escape(message)):
        GrammarMatcher(gbnf)


def test_recursion_message_names_the_cycle():
    with pytest.raises(GrammarError) as info:
        GrammarMatcher('root ::= a\na ::= b\nb ::= "x" a?\n')
    assert 'a -> b -> a' in str(info.value)
