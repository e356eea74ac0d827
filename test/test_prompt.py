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
"""The prompt: the example bank, example selection, the fixed prefix, the answer format."""

import os

from llm_planner.core.errors import PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.validator import validate
from llm_planner.planning.prompt import (AnswerFormat, chatml, Example, ExampleError,
                                         examples_from_list, load_examples, PromptBuilder)
from llm_planner.planning.similarity import features, place_pattern
import pytest

pytest_plugins = ['planning_fixtures']

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


class TemplateBackend:
    """Just the chat template part of a backend."""

    def chat_template_prompt(self, messages):
        return ''.join(f'<{m["role"]}>{m["content"]}</{m["role"]}>' for m in messages) + '<a>'


# --- the example bank -------------------------------------------------------------

def test_every_example_is_a_sound_plan_or_an_intended_refusal(
        examples, catalog, semantic_map):
    assert len(examples) >= 30
    for e in examples:
        try:
            validate(parse_program(e.program), catalog, semantic_map)
        except PlannerError as err:
            assert err.code == e.expect, (e.task, err)
        else:
            assert not e.expect, e.task


def test_the_bank_covers_every_kind_of_task(examples):
    programs = [e.program for e in examples]
    assert sum(p == 'ERROR' for p in programs) >= 8
    assert sum(e.expect == 'UNKNOWN_LOCATION' for e in examples) >= 3
    round_trips = [p for p in programs if p.startswith('$start = GET_CURRENT_LOCATION()')]
    assert len(round_trips) >= 5
    assert all(p.endswith('GO(to:$start)') for p in round_trips)
    assert any(p.count('GRAB(') >= 2 for p in programs)  # several objects
    assert any('SEARCH(' in p and 'GO(' not in p and 'GRAB(' not in p for p in programs)
    french = [e for e in examples if any(w in e.task.lower().split()
                                         for w in ('va', 'la', 'le', 'les', 'dans'))]
    assert len(french) >= 5
    assert any('ignore' in e.task.lower() and e.program == 'ERROR' for e in examples)
    assert any(e.core for e in examples) and any(not e.core for e in examples)


def test_example_tasks_are_unique(examples):
    tasks = [e.task.lower() for e in examples]
    assert len(tasks) == len(set(tasks))


def test_the_eval_set_does_not_copy_the_bank(examples):
    import yaml
    with open(os.path.join(REPO, 'eval', 'tasks.yaml'), encoding='utf-8') as f:
        eval_tasks = {t['task'].lower() for t in yaml.safe_load(f)['tasks']}
    assert len(eval_tasks) >= 60
    assert not eval_tasks & {e.task.lower() for e in examples}


@pytest.mark.parametrize('entries', [
    None, [3], [{'task': 'x'}], [{'task': '', 'program': 'GO(to:$x)'}],
    [{'task': 'x', 'program': 'ERROR', 'expect': 'MAYBE'}],
])
def test_bad_bank(entries):
    with pytest.raises(ExampleError):
        examples_from_list(entries)


def test_bad_bank_file_names_the_file(tmp_path):
    path = tmp_path / 'ex.yaml'
    path.write_text('examples: {a: 1}')
    with pytest.raises(ExampleError) as info:
        load_examples(str(path))
    assert 'ex.yaml' in str(info.value)
    with pytest.raises(ExampleError) as info:
        load_examples(str(tmp_path / 'none.yaml'))
    assert 'none.yaml' in str(info.value)


# --- selection --------------------------------------------------------------------

def test_places_are_one_feature_and_function_words_none(semantic_map):
    bag = features('Go to the Living Room, then the salle de bain', place_pattern(semantic_map))
    assert bag['w:zplacez'] == 2
    assert 'w:the' not in bag and 'w:living' not in bag
    assert bag['b:go_zplacez'] == 1


def test_selection_is_deterministic_most_similar_last(catalog, semantic_map, examples):
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=4)
    chosen = builder.select('Bring me a bottle of water')
    assert len(chosen) == 4
    assert chosen[-1].task == 'Bring me a bottle of water'
    assert not any(e.core for e in chosen)
    assert chosen == builder.select('Bring me a bottle of water')
    scores = builder._index.scores('Bring me a bottle of water')
    ranked = [builder.pool[i].task for i in sorted(range(len(scores)), key=lambda i: -scores[i])]
    assert [e.task for e in chosen] == ranked[:4][::-1]


def test_no_examples(catalog, semantic_map, examples):
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=0)
    assert builder.select('Go to the kitchen') == []
    assert builder.build('Go to the kitchen').startswith(builder.prefix())
    builder = PromptBuilder(catalog, semantic_map, [], num_examples=3)
    assert builder.select('Go to the kitchen') == []


def test_french_task_picks_french_examples(catalog, semantic_map, examples):
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=3)
    chosen = builder.select('Apporte-moi le livre qui est dans le bureau')
    assert any('apporte' in e.task.lower() or 'ramène' in e.task.lower() for e in chosen)


# --- rendering --------------------------------------------------------------------

def test_system_message_lists_skills_and_places(catalog, semantic_map, examples):
    system = PromptBuilder(catalog, semantic_map, examples).system
    for skill in catalog:
        assert f'- {skill.name}(' in system
        assert skill.description in system
    for place in semantic_map.places:
        assert place.name in system
        for alias in place.aliases:
            assert alias in system
    for word in ('DO:', 'go, find, take, come back', '$start = GET_CURRENT_LOCATION()',
                 'GO(to:$start)', 'location_name:"garage"', 'cook', 'water'):
        assert word in system
    # Without the action line the model refuses with ERROR itself.
    plain = PromptBuilder(catalog, semantic_map, examples, check_actions=False).system
    assert 'ERROR' in plain and 'DO:' not in plain


@pytest.mark.parametrize('backend', [None, TemplateBackend()])
def test_prompt_starts_with_the_fixed_prefix(catalog, semantic_map, examples, backend):
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=6)
    prefix = builder.prefix(backend)
    assert builder.system in prefix
    for e in builder.core:
        assert e.task in prefix
    for task in ('Go to the kitchen', 'Bring me an apple from the kitchen', 'Cook dinner',
                 'Va dans la chambre', 'é' * 400):
        prompt = builder.build(task, backend)
        assert prompt.startswith(prefix)
        rest = prompt[len(prefix):]
        for e in builder.select(task):
            assert e.task in rest
        assert task in rest


def test_plain_chatml_fallback(catalog, semantic_map, examples):
    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=1)
    prompt = builder.build('Go to the kitchen')
    assert prompt.startswith('<|im_start|>system\n')
    assert prompt.endswith('<|im_start|>user\nGo to the kitchen<|im_end|>\n'
                           '<|im_start|>assistant\n')
    assert builder.prefix().endswith('<|im_start|>user\n')
    assert chatml([{'role': 'user', 'content': 'x'}], False) == '<|im_start|>user\nx<|im_end|>\n'


def test_a_template_that_is_not_prefix_stable_falls_back_to_chatml(catalog, semantic_map,
                                                                   examples):
    class Counting:
        def chat_template_prompt(self, messages):
            return f'{len(messages)} messages: ' + '|'.join(m['content'] for m in messages)

    builder = PromptBuilder(catalog, semantic_map, examples, num_examples=2)
    backend = Counting()
    prompt = builder.build('Go to the kitchen', backend)
    assert prompt.startswith(builder.prefix(backend))
    assert prompt.startswith('<|im_start|>system\n')


def test_answer_format(catalog):
    fmt = AnswerFormat(catalog)
    trip = '$start = GET_CURRENT_LOCATION()\n$x = SEARCH(object_name:"x")\nGO(to:$start)'
    assert fmt.render(Example('t', trip)) == 'DO: find, come back\n' + trip
    assert fmt.render(Example('t', '$x = SEARCH(object_name:"x")\nGRAB(where:$x)')) == (
        'DO: find, take\n$x = SEARCH(object_name:"x")\nGRAB(where:$x)')
    assert fmt.render(Example('t', 'ERROR', actions=('go', 'water'))) == 'DO: go, water'
    assert fmt.render(Example('t', 'GO(to:$a)', actions=('walk',))) == 'DO: walk\nGO(to:$a)'
    assert fmt.split('DO: go\nGO(to:$a)') == (['go'], 'GO(to:$a)')
    assert fmt.split('GO(to:$a)\nGO(to:$b)') == ([], 'GO(to:$a)\nGO(to:$b)')
    assert AnswerFormat(catalog, check_actions=False).render(Example('t', trip)) == trip


def test_examples_that_contradict_the_catalog_are_left_out(catalog, semantic_map):
    bank = [Example('Water the plants', 'ERROR', actions=('water',)),
            Example('Go to the kitchen and sing', 'ERROR', actions=('go', 'find')),
            Example('Dance', 'DANCE()'),
            Example('Go to the office', '$o = GET_LOCATION(location_name:"office")\n'
                                        'GO(to:$o)')]
    builder = PromptBuilder(catalog, semantic_map, bank, num_examples=4)
    assert [e.task for e in builder.pool] == ['Water the plants', 'Go to the office']


def test_answer_format_without_round_trip_skills():
    from llm_planner.core.catalog import SkillCatalog
    catalog = SkillCatalog.from_dict({'skills': [
        {'name': 'SAY', 'description': 'say', 'args': [{'name': 'text', 'type': 'STRING'}]}]})
    fmt = AnswerFormat(catalog)
    assert not fmt.round_trips
    assert 'back-program' not in fmt.gbnf('root ::= ("ERROR" | program) "\\n"?\n'
                                          'program ::= "x"\n', 4, round_trip=None)
    builder = PromptBuilder(catalog, None, [Example('say hi', 'SAY(text:"hi")')], 1)
    assert 'GET_CURRENT_LOCATION' not in builder.system
    assert builder.build('say hello').startswith(builder.prefix())


def test_unexpected_plan_grammar_is_refused(catalog):
    with pytest.raises(ValueError):
        AnswerFormat(catalog).gbnf('root ::= "x"\n', 4)
