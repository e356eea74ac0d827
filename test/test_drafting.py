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

from llm_planner.drafting import lookup, plan_guess
import pytest

PROMPT = ('<|im_start|>user\nGo to the kitchen<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)<|im_end|>\n'
          '<|im_start|>user\nFind the cup<|im_end|>\n<|im_start|>assistant\n'
          'OK\n$cup = SEARCH(object_name:"cup")<|im_end|>\n'
          '<|im_start|>user\nGo to the office and grab a pen<|im_end|>\n'
          '<|im_start|>assistant\n')


def test_lookup_starts_the_answer_like_the_nearest_example():
    # The prompt ends like the last example's answer began: its first line follows.
    assert lookup('', PROMPT) == 'OK\n'


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
