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
"""The places a task names (planning/task_places.py) and the grammar that keeps to them."""

from llm_planner.core.program import parse_program
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding.gbnf_nfa import GrammarMatcher
from llm_planner.planning.grammar import build_gbnf, line_gbnf
from llm_planner.planning.task_places import TaskPlaces
import pytest

pytest_plugins = ['planning_fixtures']

MAP = SemanticMap.from_dict({'locations': {
    'kitchen': {'x': 1.0, 'y': 0.0, 'aliases': ['cuisine']},
    'living_room': {'x': 0.0, 'y': 0.0, 'aliases': ['lounge', 'salon']},
    'laundry_room': {'x': 2.0, 'y': 0.0, 'aliases': ['buanderie']},
    'entrance': {'x': 3.0, 'y': 0.0, 'aliases': ['front_door']},
    'office': {'x': 4.0, 'y': 0.0},
}})


def places_of(step):
    return [v for n, v in step.args if n == 'location_name']


def objects_of(step):
    return [v for n, v in step.args if n == 'object_name']


@pytest.mark.parametrize('task, named', [
    ('Go to the kitchen', ['kitchen']),
    ('Va à la buanderie, puis au salon', ['laundry_room', 'living_room']),
    ('Walk to the front door, then the LOUNGE.', ['entrance', 'living_room']),
    ('Fetch me the charger', []),
    ('Go to the living room', ['living_room']),
    ('Go to the living', []),  # half a name is not a name
])
def test_the_places_a_task_names_in_its_order(task, named):
    assert TaskPlaces(task, MAP).named == named


@pytest.mark.parametrize('task, literal, allowed', [
    ('Go to the kitchen', 'kitchen', True),
    ('Va à la cuisine', 'kitchen', True),          # named by an alias
    ('Go to the front door', 'front_door', True),  # an alias of a named place
    ('Fetch me the charger', 'office', False),     # a guess where the charger is
    ('Va à la buanderie', 'basement', False),      # a mistranslation
    ('Go to the kitchen', 'start', False),         # an invented place
    ('Drive to the wine cellar', 'wine_cellar', True),  # not on the map, as said
    ('Drive to the wine cellar and the kitchen', 'cellar', True),
    ('Va dans le jardin', 'garden', True),         # no place of the map named: may be it
    ('Go to the kitchen', 'living_room', False),   # on the map, but not asked for
])
def test_a_plan_names_only_places_the_task_names(task, literal, allowed):
    assert TaskPlaces(task, MAP).allows(literal) is allowed


def test_literals_are_the_named_places_of_the_map_by_their_canonical_names():
    assert TaskPlaces('Va au salon puis à la buanderie', MAP).literals() == [
        'living_room', 'laundry_room']
    assert TaskPlaces('Fetch me the charger', MAP).literals() == []


def test_first_unasked_step():
    steps = parse_program('$start = GET_CURRENT_LOCATION()\n'
                          '$office = GET_LOCATION(location_name:"office")\nGO(to:$office)')
    assert TaskPlaces('Bring me the charger', MAP).first_unasked(steps, places_of) == 1
    steps = parse_program('$k = GET_LOCATION(location_name:"cuisine")\nGO(to:$k)')
    assert TaskPlaces('Go to the kitchen', MAP).first_unasked(steps, places_of) is None


@pytest.mark.parametrize('task, program, missing', [
    ('Take the basket to the kitchen',
     '$b = SEARCH(object_name:"basket")\nGRAB(where:$b)', ['kitchen']),
    ('Take the basket to the kitchen',
     '$b = SEARCH(object_name:"basket")\nGRAB(where:$b)\n'
     '$k = GET_LOCATION(location_name:"kitchen")\nGO(to:$k)', []),
    # The place is part of an object's name.
    ('Grab the kitchen knife', '$k = SEARCH(object_name:"kitchen knife")\nGRAB(where:$k)', []),
    # A place not on the map: the validator refuses the plan whole.
    ('Go to the garage, then the kitchen',
     '$g = GET_LOCATION(location_name:"garage")\nGO(to:$g)', []),
])
def test_missing_places(task, program, missing):
    assert TaskPlaces(task, MAP).missing(parse_program(program), places_of, objects_of) == missing


def admits(gbnf, text):
    matcher = GrammarMatcher(gbnf)
    state = matcher.start()
    for ch in text:
        state = matcher.advance(state, ch)
        if state is None:
            return False
    return matcher.is_accepting(state)


def test_a_repaired_line_writes_only_the_places_it_is_given(catalog):
    gbnf = line_gbnf(catalog, MAP, {}, places=['laundry_room', 'garage'])
    assert admits(gbnf, '$l = GET_LOCATION(location_name:"laundry_room")')
    assert admits(gbnf, '$g = GET_LOCATION(location_name:"garage")')
    assert not admits(gbnf, '$b = GET_LOCATION(location_name:"basement")')
    assert not admits(gbnf, '$k = GET_LOCATION(location_name:"kitchen")')
    # No place at all: the lookup cannot be written, other lines can.
    gbnf = line_gbnf(catalog, MAP, {}, places=[])
    assert 'GET_LOCATION' not in gbnf
    assert admits(gbnf, '$x = SEARCH(object_name:"x")')


@pytest.mark.parametrize('name, ok', [
    ('$start', False), ('$start_location', False), ('$start1', False), ('$startroom', False),
    ('$star', True), ('$stapler', True), ('$kitchen', True), ('$restart', True),
])
def test_a_one_way_plan_stores_no_start_under_any_spelling(catalog, name, ok):
    gbnf = build_gbnf(catalog, MAP, exclude_vars=('$start',))
    assert admits(gbnf, f'{name} = GET_LOCATION(location_name:"kitchen")') is ok
    line = line_gbnf(catalog, MAP, {}, exclude_vars=('$start',))
    assert admits(line, f'{name} = GET_LOCATION(location_name:"kitchen")') is ok


def test_several_names_banned_at_once(catalog):
    gbnf = line_gbnf(catalog, MAP, {}, exclude_vars=('$start', '$office'))
    for name, ok in (('$office', False), ('$office2', False), ('$start', False), ('$off', True),
                     ('$officer', False), ('$of', True), ('$charger', True), ('$stapler', True)):
        assert admits(gbnf, f'{name} = SEARCH(object_name:"x")') is ok, name


@pytest.mark.parametrize('task, unknown', [
    ('Try to find the ball in the wine cellar', ['wine_cellar']),
    ('Get me the hat from the terrace', ['terrace']),
    ('Go to the kitchen, then to the boiler room and come back', ['boiler_room']),
    ('Prends la pelle qui est au grenier', ['grenier']),
    # The map's places and aliases, said any way, are known.
    ('Go to the laundry room', []), ('Va a la buanderie', []), ('Walk to the lounge', []),
    # Where an object is inside a place is no place of its own.
    ('Find my keys in the drawer', []), ('Get the milk from the fridge', []),
    ('Look for the remote in the living room cabinet', []),
    # A word for a place that no preposition introduces is not read as one,
    # nor one that names a thing ("the garden hose").
    ('Garden tools are in the office', []),
    ('Bring me the cue from the pool table', []),
    ('Take the hose from the garden shed now', ['garden_shed']),
])
def test_places_the_task_says_that_the_map_lacks(task, unknown):
    assert TaskPlaces(task, MAP).unknown() == unknown


@pytest.mark.parametrize('words, place', [
    ('it to the kitchen', 'kitchen'), ('the cup to the lounge now', 'living_room'),
    ('la tasse a la cuisine', 'kitchen'), ('the cup from the kitchen', None),
    ('the cup in the office', None),
])
def test_the_place_something_is_taken_to(words, place):
    task = 'Bring ' + words
    assert TaskPlaces(task, MAP).said_after(words.split()) == place
