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
The GBNF grammar: it compiles in llama.cpp and a model decoding under it writes plans.

The tiny random-weight model writes arbitrary text wherever the grammar lets
it, so it probes the grammar much harder than a real model would.
"""

from llm_planner.backends.llama_backend import LlamaBackend
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.validator import validate
from llm_planner.planning.grammar import build_gbnf, line_gbnf
from llm_planner.planning.planner import Planner
from llm_planner.planning.prompt import AnswerFormat, PromptBuilder
import pytest

pytest_plugins = ['planning_fixtures']


@pytest.fixture(scope='module')
def vocab_model(tiny_model):
    """Return a vocabulary-only llama.cpp model, to compile grammars against."""
    import llama_cpp
    llm = llama_cpp.Llama(model_path=tiny_model, vocab_only=True, verbose=False)
    yield llm
    llm.close()


def compiles(llm, text):
    """Return True when llama.cpp's grammar parser accepts ``text``."""
    import llama_cpp
    sampler = llama_cpp.llama_sampler_init_grammar(llm._model.vocab, text.encode(), b'root')
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


@pytest.mark.parametrize('strict', [False, True])
@pytest.mark.parametrize('max_steps', [1, 4, 16])
def test_grammar_compiles(vocab_model, catalog, semantic_map, strict, max_steps):
    text = build_gbnf(catalog, semantic_map, max_steps=max_steps, strict_places=strict)
    assert compiles(vocab_model, text), text


def test_grammar_without_map_compiles(vocab_model, catalog):
    assert compiles(vocab_model, build_gbnf(catalog, None, max_steps=4))


def test_a_broken_grammar_does_not_compile(vocab_model):
    assert not compiles(vocab_model, 'root ::= ("a" | \n')


@pytest.mark.parametrize('variables', [{}, {'$start': 'LOCATION'},
                                       {'$a': 'LOCATION', '$b_2': 'LOCATION'}])
@pytest.mark.parametrize('strict', [False, True])
def test_line_grammar_compiles(vocab_model, catalog, semantic_map, variables, strict):
    for first in (False, True):
        text = line_gbnf(catalog, semantic_map, variables, allow_refusal=first,
                         strict_places=strict)
        assert compiles(vocab_model, text), text


def test_line_grammar_lists_only_assigned_variables(catalog, semantic_map):
    text = line_gbnf(catalog, semantic_map, {})
    assert 'call-go' not in text and 'call-grab' not in text  # no LOCATION variable yet
    text = line_gbnf(catalog, semantic_map, {'$kitchen': 'LOCATION'})
    assert 'location-var ::= "$kitchen"' in text
    assert 'call-go ::=' in text


@pytest.mark.parametrize('max_steps', [1, 2, 16])
def test_answer_grammar_compiles(vocab_model, catalog, semantic_map, max_steps):
    program = build_gbnf(catalog, semantic_map, max_steps=max_steps)
    for round_trip, root in ((False, 'root ::= (program)'),
                             (True, 'root ::= (back-program)' if max_steps >= 2
                              else 'root ::= (program)'),
                             (None, 'root ::= ("ERROR" | program')):
        text = AnswerFormat(catalog).gbnf(program, max_steps, round_trip=round_trip)
        assert compiles(vocab_model, text), text
        assert text.startswith(root), text
        assert (('back-program ::= "$start = GET_CURRENT_LOCATION()\\n"' in text)
                == (max_steps >= 2 and round_trip is not False))


def test_literals_cannot_be_blank(catalog):
    # The validator refuses a blank literal, so the grammar must not produce one.
    text = build_gbnf(catalog, None)
    assert 'string ::= "\\"" [^ "' in text


def test_grammar_text(catalog, semantic_map):
    text = build_gbnf(catalog, semantic_map, max_steps=4)
    for name in catalog.names:
        assert f'"{name}("' in text
    for place in ('"kitchen"', '"living_room"', '"lounge"', '"salle_de_bain"'):
        assert place in text
    assert 'line ("\\n" line){0,3}' in text
    assert '| string' in text.split('place-value ::=')[1]
    strict = build_gbnf(catalog, semantic_map, max_steps=4, strict_places=True)
    assert '| string' not in strict.split('place-value ::=')[1]


def _raw_outputs(model_path, catalog, semantic_map, examples, strict, tasks):
    """Decode every task with the tiny model under the generated grammar, unrepaired."""
    grammar = build_gbnf(catalog, semantic_map, max_steps=4, strict_places=strict)
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=1)
    backend = LlamaBackend(model_path, n_ctx=12288, n_threads=1)
    backend.load()
    try:
        backend.warm(builder.prefix(backend))
        return [backend.complete(builder.build(t, backend), grammar, 1024).text
                for t in tasks]
    finally:
        backend.close()


@pytest.mark.parametrize('strict', [False, True])
def test_tiny_model_output_always_parses(tiny_models, catalog, semantic_map, examples, strict,
                                         planning_tasks):
    known = set()
    for place in semantic_map.places:
        known.update((place.name,) + place.aliases)
    outputs = []
    for i, path in enumerate(tiny_models):
        outputs += _raw_outputs(path, catalog, semantic_map, examples, strict,
                                planning_tasks[i::len(tiny_models)])
    assert len(outputs) == len(planning_tasks) >= 20
    for text in outputs:
        try:
            steps = parse_program(text)
        except PlannerError as e:
            assert e.code == ErrorCode.UNSUPPORTED_TASK, (text, e)  # ERROR: a refusal
            continue
        assert 1 <= len(steps) <= 4, text
        for step in steps:
            assert catalog.get(step.function) is not None
            if strict and step.function == 'GET_LOCATION':
                assert step.args[0][1] in known, text


@pytest.mark.parametrize('strict', [False, True])
def test_tiny_model_plans_always_validate(tiny_models, strict, tiny_config, planning_tasks):
    """Through the planner (grammar + repair of unassigned variables): always sound."""
    outcomes = []
    for i, path in enumerate(tiny_models):
        planner = Planner(tiny_config(path, strict_places=strict))
        planner.load()
        try:
            for task in planning_tasks[i::len(tiny_models)]:
                try:
                    result = planner.plan(task)
                except PlannerError as e:
                    allowed = {ErrorCode.UNSUPPORTED_TASK}
                    if not strict:
                        allowed.add(ErrorCode.UNKNOWN_LOCATION)
                    if '\ufffd' in getattr(e, 'raw_output', ''):
                        # Bytes that are not UTF-8: the grammar counts an unfinished
                        # character once, the text one U+FFFD per byte, so such a
                        # literal may pass the grammar's MAX_LITERAL and not the
                        # validator's (the same limit).
                        allowed.add(ErrorCode.INVALID_PLAN)
                    assert e.code in allowed, (task, e, getattr(e, 'raw_output', ''))
                    outcomes.append(e.code)
                    continue
                validate(result.steps, planner.catalog, planner.semantic_map, max_steps=4)
                assert parse_program(result.program) == result.steps
                outcomes.append('ok')
        finally:
            planner.close()
    assert len(outcomes) == len(planning_tasks)
    assert outcomes.count('ok') >= len(planning_tasks) // 3, outcomes
