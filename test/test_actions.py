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
"""The action line: parsing, the verbs' meaning, refusal and round trip, its grammar."""

from llm_planner.core.catalog import CatalogError, SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.decoding.gbnf_nfa import GrammarMatcher
from llm_planner.planning.actions import (actions_gbnf, check_actions, decide_round_trip,
                                          derive_actions, format_actions, meaning, parse_actions,
                                          refusal_message)
from llm_planner.planning.planner import Planner
import pytest

pytest_plugins = ['planning_fixtures']


def test_parse_and_format():
    assert parse_actions('DO: go, find, take, come back\n') == [
        'go', 'find', 'take', 'come back']
    assert parse_actions('DO:  Go ,  pick   up\n$x = ...') == ['go', 'pick up']
    assert parse_actions('GO(to:$x)') == []
    assert format_actions(['go', 'take']) == 'DO: go, take\n'


@pytest.mark.parametrize('action, means', [
    ('go', {'GO'}), ('walk', {'GO'}), ('walks', {'GO'}), ('heading', {'GO'}),
    ('go back', {'GO'}), ('look for', {'SEARCH'}), ('looking for', {'SEARCH'}),
    ('pick up', {'GRAB'}), ('pick it up', {'GRAB'}), ('fetch', {'GRAB'}),
    ('come back', {''}), ('come back here', {''}), ('return', {''}),
    ('make', None), ('turn on', None), ('put down', None), ('switch off', None),
    ('water', None), ('take off shoes', None),
])
def test_meaning(catalog, action, means):
    assert meaning(action, catalog.verbs) == means


def test_check_actions(catalog):
    assert check_actions(['go', 'find', 'take'], catalog) == ([], False)
    assert check_actions(['find', 'take', 'come back'], catalog) == ([], True)
    assert check_actions(['go', 'water', 'water', 'cook'], catalog) == (['water', 'cook'],
                                                                        False)
    message = refusal_message(['water'], catalog)
    assert message == "no skill can 'water'; the robot can: go, find, take, come back"


def test_derive_actions(catalog):
    program = parse_program('$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)\n'
                            '$b = SEARCH(object_name:"banana")\nGRAB(where:$b)')
    assert derive_actions(program, catalog) == ['go', 'find', 'take']
    assert derive_actions(program[2:], catalog, round_trip=True) == ['find', 'take',
                                                                     'come back']


def test_grammar_admits_action_lines_only():
    matcher = GrammarMatcher(actions_gbnf())
    for text in ('DO: go\n', 'DO: go, find, take, come back\n', 'DO: turn on\n'):
        assert matcher.fullmatch(text), text
    for text in ('DO: go', 'DO: Go\n', 'DO: go,find\n', 'DO: \n', 'DO: go, 42\n',
                 'GO(to:$x)\n', 'DO: ' + ', '.join(['go'] * 9) + '\n'):
        assert not matcher.fullmatch(text), text


def test_catalog_checks_verbs_and_round_trip():
    skill = {'name': 'MOVE', 'description': 'move'}
    with pytest.raises(CatalogError, match='verbs'):
        SkillCatalog.from_dict({'skills': [dict(skill, verbs=['Go!'])]})
    with pytest.raises(CatalogError, match='verbs'):
        SkillCatalog.from_dict({'skills': [dict(skill, verbs='go')]})
    with pytest.raises(CatalogError, match='round_trip'):
        SkillCatalog.from_dict({'skills': [skill], 'round_trip': {'verbs': ['come back']}})
    catalog = SkillCatalog.from_dict({'skills': [dict(skill, verbs=['go', 'walk'])]})
    assert catalog.verbs == {'go': {'MOVE'}, 'walk': {'MOVE'}}
    assert catalog.main_verbs == ['go'] and catalog.round_trip is None


def test_tiny_model_action_line_is_checked_for_real(tiny_models, tiny_config):
    # A random model names random words: the real decoder's action line is
    # parsed and every task refused, the message naming what it wrote, and
    # nothing after the action line is decoded.
    planner = Planner(tiny_config(tiny_models[0], check_actions=True))
    planner.load()
    try:
        assert planner.grammar == planner.actions_grammar
        for task in ('Go to the kitchen', 'Dance'):
            with pytest.raises(PlannerError) as info:
                planner.plan(task)
            error = info.value
            assert error.code == ErrorCode.UNSUPPORTED_TASK, error
            written = parse_actions(error.raw_output + '\n')
            assert written and error.raw_output.startswith('DO: ')
            unknown = [a for a in written if meaning(a, planner.catalog.verbs) is None]
            assert unknown and f'no skill can {unknown[0]!r}' in error.message
            assert '\n' not in error.raw_output
    finally:
        planner.close()


@pytest.mark.parametrize('task, line_says, expected', [
    ('Get hold of my jar in the larder', True, False),  # nothing asks to come back
    ('Please find my passport', True, False),
    ('Head to the corridor and get me my shoe', False, True),  # 'get me' asks for it
    ('Va au salon et reviens', False, True),
    ('Apporte-moi les lunettes', False, True),
    ('I need my headphones', False, True),  # 'i need my' asks for it
    ('The headphones, I need them', True, True),  # the line decides: 'need' may ask
    ('The headphones, I need them', False, False),
    ('Go back to the kitchen', False, False),
])
def test_round_trip_rules_over_the_task_words(catalog, task, line_says, expected):
    assert decide_round_trip(task, line_says, catalog.round_trip)[0] == expected


def test_the_planner_follows_the_round_trip_rules():
    from test_planner import scripted_planner
    one_way = '$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)'
    planner, backend = scripted_planner(['DO: go, come back\n', one_way])
    result = planner.plan('Collect my basket in the kitchen')
    assert backend.requests[1][1] == planner.plan_grammar
    assert result.details['round_trip_rule'] == 'no word of the task asks to come back'
    # The program is decoded after the line the rules made, not the model's:
    # no round trip, and the task's order "collect" (a take) put back in.
    assert backend.requests[1][0].endswith('assistant\nDO: go, take\n')
    assert result.details['actions'] == ['go', 'take']
    trip = '$start = GET_CURRENT_LOCATION()\n' + one_way + '\nGO(to:$start)'
    planner, backend = scripted_planner(['DO: go\n', trip])
    planner.plan('Va à la cuisine et reviens')
    assert backend.requests[1][1] == planner.round_trip_grammar
    assert backend.requests[1][0].endswith('assistant\nDO: go, come back\n')
