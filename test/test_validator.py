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
"""The validator: one test per reason a plan is refused."""

import os

from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import format_program, MAX_LITERAL, MAX_VAR, parse_program
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.core.validator import tidy, validate
from llm_planner.decoding.gbnf_nfa import GrammarMatcher
from llm_planner.planning.grammar import build_gbnf
import pytest

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), 'config')


@pytest.fixture(scope='module')
def catalog():
    return SkillCatalog.load(os.path.join(CONFIG, 'skills.yaml'))


@pytest.fixture(scope='module')
def semantic_map():
    return SemanticMap.load(os.path.join(CONFIG, 'locations.yaml'))


@pytest.fixture(scope='module')
def string_catalog():
    """Return a catalog with a skill returning a STRING, for the type rules."""
    return SkillCatalog.from_dict({'skills': [
        {'name': 'GET_LOCATION', 'description': 'place', 'returns': 'LOCATION',
         'args': [{'name': 'location_name', 'type': 'STRING', 'values': 'locations'}]},
        {'name': 'GO', 'description': 'go', 'args': [{'name': 'to', 'type': 'LOCATION'}]},
        {'name': 'READ_LABEL', 'description': 'read', 'returns': 'STRING',
         'args': [{'name': 'where', 'type': 'LOCATION'}]},
        {'name': 'SAY', 'description': 'say', 'args': [{'name': 'text', 'type': 'STRING'}]},
    ]})


def refusal(text, catalog, semantic_map=None, **kwargs):
    with pytest.raises(PlannerError) as info:
        validate(parse_program(text), catalog, semantic_map, **kwargs)
    return info.value


def test_valid_plan_returns_variable_types(catalog, semantic_map):
    types = validate(parse_program("""$start = GET_CURRENT_LOCATION()
$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
$banana = SEARCH(object_name:"banana")
GRAB(where:$banana)
GO(to:$start)"""), catalog, semantic_map)
    assert types == {'$start': 'LOCATION', '$kitchen': 'LOCATION', '$banana': 'LOCATION'}


def test_unknown_skill(catalog, semantic_map):
    err = refusal('OPEN(door:"front")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'unknown skill' in err.message


def test_wrong_argument_names(catalog, semantic_map):
    err = refusal('$k = GET_LOCATION(place:"kitchen")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'takes (location_name)' in err.message


def test_wrong_argument_count(catalog, semantic_map):
    err = refusal('$k = GET_LOCATION(location_name:"kitchen", x:"y")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    err = refusal('$s = GET_CURRENT_LOCATION(x:"y")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    err = refusal('GO()', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN


def test_argument_given_twice(catalog, semantic_map):
    err = refusal('$k = GET_LOCATION(location_name:"kitchen", location_name:"office")',
                  catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'twice' in err.message


def test_wrong_variable_type(string_catalog, semantic_map):
    err = refusal("""$k = GET_LOCATION(location_name:"kitchen")
$label = READ_LABEL(where:$k)
GO(to:$label)""", string_catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'needs a LOCATION' in err.message


def test_string_variable_for_string_argument(string_catalog, semantic_map):
    validate(parse_program("""$k = GET_LOCATION(location_name:"kitchen")
$label = READ_LABEL(where:$k)
SAY(text:$label)"""), string_catalog, semantic_map)


def test_literal_where_location_needed(catalog, semantic_map):
    err = refusal('GO(to:"kitchen")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'LOCATION variable' in err.message


def test_variable_used_before_assignment(catalog, semantic_map):
    err = refusal('GO(to:$kitchen)\n$kitchen = GET_LOCATION(location_name:"kitchen")',
                  catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'before it is assigned' in err.message


def test_store_on_a_skill_returning_nothing(catalog, semantic_map):
    err = refusal("""$k = GET_LOCATION(location_name:"kitchen")
$moved = GO(to:$k)""", catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'returns nothing' in err.message


def test_retyped_variable(string_catalog, semantic_map):
    err = refusal("""$k = GET_LOCATION(location_name:"kitchen")
$k = READ_LABEL(where:$k)""", string_catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'cannot become' in err.message


def test_reassigning_with_the_same_type_is_fine(catalog, semantic_map):
    validate(parse_program("""$p = GET_LOCATION(location_name:"kitchen")
GO(to:$p)
$p = GET_LOCATION(location_name:"office")
GO(to:$p)"""), catalog, semantic_map)


def test_too_many_steps(catalog, semantic_map):
    text = '$s = GET_CURRENT_LOCATION()\n' + 'GO(to:$s)\n' * 4
    err = refusal(text, catalog, semantic_map, max_steps=4)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'limit is 4' in err.message
    validate(parse_program(text), catalog, semantic_map, max_steps=5)


def test_empty_or_blank_literal(catalog, semantic_map):
    err = refusal('$x = SEARCH(object_name:"  ")', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    err = refusal('$x = SEARCH(object_name:"' + 'a' * (MAX_LITERAL + 1) + '")', catalog,
                  semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN


def test_bad_variable_name(catalog, semantic_map):
    # The parser admits long names; the validator keeps them to MAX_VAR characters.
    err = refusal('$' + 'a' * (MAX_VAR + 1) + ' = GET_CURRENT_LOCATION()', catalog, semantic_map)
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'bad variable name' in err.message


@pytest.mark.parametrize('length', [MAX_LITERAL - 1, MAX_LITERAL, MAX_LITERAL + 1])
def test_grammar_and_validator_agree_on_literals(catalog, semantic_map, length):
    text = '$x = SEARCH(object_name:"' + 'a' * length + '")'
    matcher = GrammarMatcher(build_gbnf(catalog, semantic_map))
    assert matcher.fullmatch(text) == validates(text, catalog, semantic_map) == (
        length <= MAX_LITERAL)


@pytest.mark.parametrize('length', [MAX_VAR - 1, MAX_VAR, MAX_VAR + 1])
def test_grammar_and_validator_agree_on_variable_names(catalog, semantic_map, length):
    text = '$' + 'a' * length + ' = GET_CURRENT_LOCATION()'
    matcher = GrammarMatcher(build_gbnf(catalog, semantic_map))
    assert matcher.fullmatch(text) == validates(text, catalog, semantic_map) == (
        length <= MAX_VAR)


def validates(text, catalog, semantic_map):
    """Return whether ``text`` passes the validator."""
    try:
        validate(parse_program(text), catalog, semantic_map)
    except PlannerError:
        return False
    return True


def test_unknown_location(catalog, semantic_map):
    err = refusal('$g = GET_LOCATION(location_name:"garage")\nGO(to:$g)', catalog, semantic_map)
    assert err.code == ErrorCode.UNKNOWN_LOCATION
    assert "'garage'" in err.message and 'kitchen' in err.message


def test_no_map_means_no_place_check(catalog):
    validate(parse_program('$g = GET_LOCATION(location_name:"garage")'), catalog, None)


@pytest.mark.parametrize('name', ['cuisine', 'lounge', 'Living Room', 'the kitchen',
                                  'salle de bain', 'front-door', 'STUDY'])
def test_alias_accepted(catalog, semantic_map, name):
    validate(parse_program(f'$p = GET_LOCATION(location_name:"{name}")\nGO(to:$p)'),
             catalog, semantic_map)


def test_empty_plan(catalog, semantic_map):
    with pytest.raises(PlannerError) as info:
        validate([], catalog, semantic_map)
    assert info.value.code == ErrorCode.INVALID_PLAN


def test_a_block_repeated_on_the_same_variable_is_collapsed():
    from llm_planner.core.validator import collapse_repeats
    twice = parse_program('$c = SEARCH(object_name:"cup")\nGRAB(where:$c)\n'
                          '$c = SEARCH(object_name:"cup")\nGRAB(where:$c)\nGRAB(where:$c)')
    assert [s.text() for s in collapse_repeats(twice)] == [
        '$c = SEARCH(object_name:"cup")', 'GRAB(where:$c)']
    # Back to a place after another stays; calls naming no variable are rounds.
    kept = parse_program('GO(to:$a)\nGO(to:$b)\nGO(to:$a)\nPATROL()\nPATROL()')
    assert collapse_repeats(kept) == kept


@pytest.mark.parametrize('program, tidied', [
    # Back to where the robot is already: the second move goes.
    ('$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)\n$c = SEARCH(object_name:"cup")\n'
     'GRAB(where:$c)\nGO(to:$k)\n$o = GET_LOCATION(location_name:"office")\nGO(to:$o)',
     '$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)\n$c = SEARCH(object_name:"cup")\n'
     'GRAB(where:$c)\n$o = GET_LOCATION(location_name:"office")\nGO(to:$o)'),
    # Lookups of the map move to just before their first use.
    ('$o = GET_LOCATION(location_name:"office")\n$l = GET_LOCATION(location_name:"living_room")'
     '\nGO(to:$o)\nGO(to:$l)',
     '$o = GET_LOCATION(location_name:"office")\nGO(to:$o)\n'
     '$l = GET_LOCATION(location_name:"living_room")\nGO(to:$l)'),
    # A round trip's start is the robot's pose now: it never moves.
    ('$s = GET_CURRENT_LOCATION()\n$k = GET_LOCATION(location_name:"kitchen")\n'
     '$c = SEARCH(object_name:"cup")\nGO(to:$k)\nGO(to:$s)',
     '$s = GET_CURRENT_LOCATION()\n$c = SEARCH(object_name:"cup")\n'
     '$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)\nGO(to:$s)'),
    # Kitchen, office, kitchen again: a move elsewhere came between.
    ('$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)\n'
     '$o = GET_LOCATION(location_name:"office")\nGO(to:$o)\nGO(to:$k)', None),
])
def test_tidy_keeps_the_robots_actions_and_drops_what_is_redone(catalog, program, tidied):
    steps = parse_program(program)
    out = tidy(steps, catalog)
    assert format_program(out) == (tidied or program)
    validate(out, catalog)
