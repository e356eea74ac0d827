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
"""Drafts for speculative decoding: prompt lookup and plan-language guesses."""

import os

from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.decoding.drafting import (answer_start, consensus, lookups, next_line, plan_guess,
                                           PlanFacts, repeats_line)
from llm_planner.planning.prompt import Example
import pytest

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), 'config')


def facts(places, programs=(), catalog=None):
    """Return the PlanFacts of a map of ``places`` ({name: [aliases]}) and example programs."""
    semantic_map = SemanticMap.from_dict({'locations': {
        name: {'frame': 'map', 'x': 0.0, 'y': 0.0, 'yaw': 0.0, 'aliases': list(aliases)}
        for name, aliases in places.items()}})
    return PlanFacts.of(catalog, semantic_map, [Example(f'task {i}', program)
                                                for i, program in enumerate(programs)])


def lookup(text, corpus):
    """Return the first draft prompt lookup finds ('' when none)."""
    return next(lookups(text, corpus), '')


PROMPT = ('<|im_start|>user\nGo to the kitchen<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)<|im_end|>\n'
          '<|im_start|>user\nFind the cup<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$cup = SEARCH(object_name:"cup")<|im_end|>\n'
          '<|im_start|>user\nGo to the office and grab a pen<|im_end|>\n'
          '<|im_start|>assistant\n')


def test_lookup_starts_the_answer_like_the_nearest_example():
    # The prompt ends like the last example's answer began: its first line follows.
    assert lookup('', PROMPT) == 'OK\n'


def test_the_answer_starts_like_the_nearest_example():
    # The task ends like an earlier example's ("... the office", answered OK),
    # which the longest match finds; the nearest example (last) began BACK.
    prompt = ('<|im_start|>user\nGo to the office<|im_end|>\n<|im_start|>assistant\n'
              'OK\n$office = GET_LOCATION(location_name:"office")<|im_end|>\n'
              '<|im_start|>user\nBring me a pen<|im_end|>\n<|im_start|>assistant\n'
              'BACK\n$start = GET_CURRENT_LOCATION()<|im_end|>\n'
              '<|im_start|>user\nBring me the book from the office<|im_end|>\n'
              '<|im_start|>assistant\n')
    assert lookup('', prompt) == 'OK\n'
    assert answer_start(prompt) == 'BACK\n'
    assert answer_start(PROMPT) == 'OK\n'


@pytest.mark.parametrize('prompt', ['', 'no line break', 'one line\n',
                                    'x\n<|im_start|>assistant\n'])
def test_no_answer_start(prompt):
    assert answer_start(prompt) == ''


def test_lookup_takes_the_longest_match_to_the_end_of_its_line():
    assert lookup('OK\n$k = GET_LOCATION(location_name:"kitchen")', PROMPT) == '\n'
    assert (lookup('OK\n$k = GET_LOCATION(location_name:"kitchen")\n', PROMPT)
            == 'GO(to:$kitchen)<|im_end|>\n')
    # Ends shorter than MIN_LOOKUP characters are not looked up.
    assert lookup('OK\n$office = GET_LOCATION(location_name:"office")', PROMPT) == ''
    assert lookup('OK\n$office = GET_L', PROMPT) == 'OCATION(location_name:"kitchen")\n'
    assert lookup('OK\n$pen = SEARCH(', PROMPT) == 'object_name:"cup")<|im_end|>\n'


def test_lookup_prefers_the_output_to_the_prompt():
    text = 'OK\n$pen = SEARCH(object_name:"pen")\n$pen2 = SEARCH(object_name:"'
    assert lookup(text, PROMPT) == 'pen")\n'


@pytest.mark.parametrize('text', ['', 'ab', 'abcdefgh'])
def test_lookup_without_match(text):
    assert lookup(text, 'xy') == ''


@pytest.mark.parametrize('text, guess', [
    ('OK\n$kitchen = GET_LOCATION(location_name:"', 'kitchen"'),
    ('OK\n$living_room = GET_LOCATION(location_name:"', 'living_room"'),
    ('OK\n$a = GET_LOCATION(location_name:"a")\nGO(to:$', 'a)'),
    ('OK\n$a = GET_LOCATION(location_name:"a")\nGO(to:$a)\n$b = SEARCH(object_name:"b")\n'
     'GRAB(where:$', 'b)'),
    # Every variable used: the last one assigned.
    ('$s = GET_CURRENT_LOCATION()\n$a = GET_LOCATION(location_name:"a")\nGO(to:$a)\n'
     'GO(to:$', 's)'),
    ('$a = GET_LOCATION(location_name:"a")\nGO(to:$a)\nGO(to:$', 'a)'),
    # Later arguments of a call.
    ('$p = PLACE(what:"x", name:"', 'p"'),
    ('$a = GET_LOCATION(location_name:"a")\nPUT(what:"cup", where:$', 'a)'),
])
def test_plan_guess(text, guess):
    assert plan_guess(text) == guess


@pytest.mark.parametrize('text', [
    '',
    'OK\n',
    'OK\n$',
    'OK\n$kitchen = GET_LOCATION(location_name:"kit',
    'SAY(text:"',  # no variable stored: nothing to name the text after
    'GO(to:$',  # no variable assigned yet
    '$a = GET_LOCATION(location_name:"a")\nGO(to:$a',
])
def test_no_plan_guess(text):
    assert plan_guess(text) == ''


CORPUS = ('<|im_start|>system\nKnown places:\n- kitchen\n- living_room\n<|im_end|>\n'
          '<|im_start|>user\nBring me a cup<|im_end|>\n<|im_start|>assistant\n'
          'BACK\n$start = GET_CURRENT_LOCATION()\n$cup = SEARCH(object_name:"cup")<|im_end|>\n'
          '<|im_start|>user\nGo to the kitchen<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$kitchen = GET_LOCATION(location_name:"kitchen")<|im_end|>\n'
          '<|im_start|>user\nBring me the pen<|im_end|>\n<|im_start|>assistant\n'
          'BACK\n$start = GET_CURRENT_LOCATION()\n$pen = SEARCH(object_name:"pen")<|im_end|>\n'
          '<|im_start|>user\nFind a pen<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$pen = SEARCH(object_name:"pen")<|im_end|>\n'
          '<|im_start|>user\nFetch the cup from the living room<|im_end|>\n'
          '<|im_start|>assistant\n')


def test_consensus_is_what_the_examples_always_write():
    # After BACK the examples always name the variable $start...
    assert consensus('BACK\n$', CORPUS) == 'start'
    # ...after OK they name it after the task: no consensus.
    assert consensus('OK\n$', CORPUS) == ''
    # The end looked up covers the whole line: a coincidence inside a name
    # ("cup" in "$cup = SEARCH(") does not count.
    assert consensus('OK\n$cup = SEARCH(object_name:"', CORPUS) == ''
    assert consensus('', '') == ''


# The facts of CORPUS's task: its map and its examples as objects.
CORPUS_FACTS = facts({'kitchen': [], 'living_room': []},
                     ['$start = GET_CURRENT_LOCATION()\n$cup = SEARCH(object_name:"cup")',
                      '$kitchen = GET_LOCATION(location_name:"kitchen")',
                      '$start = GET_CURRENT_LOCATION()\n$pen = SEARCH(object_name:"pen")',
                      '$pen = SEARCH(object_name:"pen")'])


def test_a_new_variable_is_named_after_the_task():
    # A place first (plans go there before searching), here two words joined.
    assert plan_guess('OK\n$', CORPUS_FACTS, CORPUS) == 'living_room'
    assert plan_guess('OK\n$living_room = GET_LOCATION(location_name:"living_room")\n'
                      'GO(to:$living_room)\n$', CORPUS_FACTS, CORPUS) == 'cup'
    # Nothing usable left, or no facts: no guess.
    assert plan_guess('OK\n$living_room = X()\n$cup = Y()\n$', CORPUS_FACTS, CORPUS) == ''
    assert plan_guess('OK\n$', None, CORPUS) == ''


def test_the_facts_are_the_maps_and_the_catalogs():
    catalog = SkillCatalog.load(os.path.join(CONFIG, 'skills.yaml'))
    semantic_map = SemanticMap.load(os.path.join(CONFIG, 'locations.yaml'))
    known = PlanFacts.of(catalog, semantic_map,
                         [Example('Sing', 'ERROR'), Example('Go to the office',
                                                            '$office = GET_LOCATION('
                                                            'location_name:"office")\n'
                                                            'GO(to:$office)')])
    # The places are the map's, whatever the prompt lists (ERROR is no place:
    # the prompt text, scraped, listed any "- word" line as one).
    assert known.places == set(semantic_map.names) and 'ERROR' not in known.places
    assert known.aliases['cuisine'] == 'kitchen'
    # The refused example stores nothing; the other's call takes a STRING first.
    assert known.assignments == (('office', 'GET_LOCATION', True),)
    task = '<|im_start|>user\nGo to the cuisine<|im_end|>\n<|im_start|>assistant\n'
    assert plan_guess('OK\n$', known, task) == 'kitchen'
    assert plan_guess('OK\n$bedroom', known, task) == ' = GET_LOCATION('
    # With no example looking a place up, the catalog's map lookup assigns places.
    bare = PlanFacts.of(catalog, semantic_map, [])
    assert bare.map_lookup == 'GET_LOCATION'
    assert plan_guess('OK\n$bedroom', bare, task) == ' = GET_LOCATION('
    assert plan_guess('OK\n$mug', bare, task) == ''


# The prompt with its list of places, as the planner writes it, and its facts.
MAP_PROMPT = 'Places:\n- kitchen (also: cuisine)\n- office\n' + PROMPT
MAP_FACTS = facts({'kitchen': ['cuisine'], 'office': []},
                  ['$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)',
                   '$cup = SEARCH(object_name:"cup")'])


@pytest.mark.parametrize('text, guess', [
    # A name the task or the map uses is followed by the skill that assigns
    # such names in the examples: places by GET_LOCATION, the rest by SEARCH.
    ('OK\n$office', ' = GET_LOCATION('),
    ('OK\n$office =', ' GET_LOCATION('),
    ('OK\n$office = ', 'GET_LOCATION('),
    ('OK\n$pen', ' = SEARCH('),
    ('OK\n$cup', ' = SEARCH('),
    # A name assigned before keeps its skill.
    ('OK\n$pen = GET_CURRENT_LOCATION()\nGO(to:$pen)\n$pen', ' = GET_CURRENT_LOCATION('),
    # A name begun is completed: the places the task names, then its words.
    ('OK\n$o', 'ffice'),
    ('OK\n$p', 'en'),
    ('OK\n$k', 'itchen'),
])
def test_plan_guess_names_and_assigns(text, guess):
    assert plan_guess(text, MAP_FACTS, MAP_PROMPT) == guess


@pytest.mark.parametrize('text', [
    'OK\n$zzz',  # a name nobody uses: no skill guessed
    'OK\n$zz',  # nor a completion
])
def test_no_guess_for_unknown_names(text):
    assert plan_guess(text, MAP_FACTS, MAP_PROMPT) == ''


@pytest.mark.parametrize('text, start', [
    # After a line calling a skill, the next line starts like the one after
    # the latest line calling that skill, up to its first variable.
    ('OK\n$office = GET_LOCATION(location_name:"office")\n', 'GO(to:$'),
    ('OK\n$pen = SEARCH(object_name:"pen")\n', ''),  # the example's SEARCH line ends it
    ('OK\n$o = GET_LOCATION(location_name:"o")\nGO(to:$o)\n'
     '$p = SEARCH(object_name:"p")\nGRAB(where:$p)\n'
     '$k = GET_LOCATION(location_name:"k")\nGO(to:$k)\n$q = SEARCH(object_name:"q")\n',
     'GRAB(where:$'),  # the output's own SEARCH line comes first
    ('OK\n$o = GET_LOCATION(location_name:"o")\nGO(to:$o)\n'
     '$p = SEARCH(object_name:"p")\nGRAB(where:$p)\nGO(to:$o)\n', '$'),
])
def test_next_line(text, start):
    assert next_line(text, PROMPT) == start


@pytest.mark.parametrize('text', [
    'OK\n$office = GET_LOCATION(location_name:"office")',  # not at a line start
    'OK\n',  # the line before calls nothing
    'OK\n$x = PLACE(what:"x")\n',  # no earlier call of that skill
    '',
])
def test_no_next_line(text):
    assert next_line(text, PROMPT) == ''


TASK_PROMPT = ('Places:\n- kitchen (also: cuisine)\n- bedroom\n'
               '<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n')


@pytest.mark.parametrize('task, done, name', [
    # A place the task names first, then, right after going there, the
    # thing it names; once that is grabbed, the next place.
    ('Pick up the phone in the bedroom and bring it to the kitchen', 'OK\n', 'bedroom'),
    ('Pick up the phone in the bedroom and bring it to the kitchen',
     'OK\n$bedroom = GET_LOCATION(location_name:"bedroom")\nGO(to:$bedroom)\n', 'phone'),
    ('Pick up the phone in the bedroom and bring it to the kitchen',
     'OK\n$bedroom = GET_LOCATION(location_name:"bedroom")\nGO(to:$bedroom)\n'
     '$phone = SEARCH(object_name:"phone")\nGRAB(where:$phone)\n', 'kitchen'),
    # No place: the thing.
    ('Find the keys', 'OK\n', 'keys'),
    # A place by another name; a word of a place's name is not a thing.
    ('Va dans la cuisine et prends une pomme', 'OK\n', 'kitchen'),
    ('Va dans la cuisine et prends une pomme',
     'OK\n$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)\n', 'pomme'),
    ('Go to the kitchen and then to the bedroom',
     'OK\n$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)\n', 'bedroom'),
])
def test_new_variable_places_and_things(task, done, name):
    task_facts = facts({'kitchen': ['cuisine'], 'bedroom': []})
    assert plan_guess(done + '$', task_facts, TASK_PROMPT.format(task)) == name


@pytest.mark.parametrize('text, more, repeats', [
    ('OK\n$a = SEARCH(object_name:"a")\nGO(to:$a)\n', 'GO(to:$a)\n', True),
    ('OK\n$a = SEARCH(object_name:"a")\nGO(to:$a)\nGO(to:$', 'a)\nGO(to:$a)\n', True),
    ('OK\nGO(to:$a)\n', 'GRAB(where:$a)\n', False),
    ('OK\nGO(to:$a)\n', 'GO(to:$a', False),  # no line completed
    ('OK\nGO(to:$ab)\n', 'GO(to:$a)\n', False),  # a longer line is another line
    ('', 'OK\n', False),
])
def test_repeats_line(text, more, repeats):
    assert repeats_line(text, more) == repeats


def test_consensus_needs_the_whole_previous_line():
    # Two office lines and an entrance line end alike ('ce")'): what follows
    # the office ones is no guide to the entrance one.
    corpus = ('OK\n$office = GET_LOCATION(location_name:"office")\nGO(to:$office)\n'
              'OK\n$office = GET_LOCATION(location_name:"office")\nGO(to:$office)\n')
    text = 'OK\n$entrance = GET_LOCATION(location_name:"entrance")\nGO(to:$'
    assert consensus(text, corpus) == ''
    assert consensus('OK\n$office = GET_LOCATION(location_name:"office")\nGO(to:$',
                     corpus) == 'office'
