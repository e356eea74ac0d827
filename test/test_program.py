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
"""The plan language: parsing, printing, the JSON form, and every rejection."""

import json

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import (format_program, MAX_LINES, MAX_PROGRAM_CHARS, parse_line,
                                      parse_program, Step, steps_from_json, steps_to_json,
                                      steps_to_json_obj)
import pytest

FETCH = """$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
$banana = SEARCH(object_name:"banana")
GRAB(where:$banana)"""


def _code(text):
    with pytest.raises(PlannerError) as info:
        parse_program(text)
    return info.value


def test_parses_the_seed_program():
    steps = parse_program(FETCH)
    assert steps == [
        Step('GET_LOCATION', (('location_name', 'kitchen'),), '$kitchen'),
        Step('GO', (('to', '$kitchen'),)),
        Step('SEARCH', (('object_name', 'banana'),), '$banana'),
        Step('GRAB', (('where', '$banana'),)),
    ]


def test_no_argument_call_blank_lines_and_spaces():
    steps = parse_program('\n  $start =  GET_CURRENT_LOCATION( )  \n\n  GO( to : $start )\n')
    assert steps == [Step('GET_CURRENT_LOCATION', (), '$start'),
                     Step('GO', (('to', '$start'),))]


def test_several_arguments_and_escapes():
    step = parse_line(r'SAY(text:"say \"hi\" \\ now", voice:"low")')
    assert step.args == (('text', 'say "hi" \\ now'), ('voice', 'low'))
    assert parse_line(step.text()) == step


def test_unicode_literal():
    step = parse_line('SEARCH(object_name:"télécommande")')
    assert step.args == (('object_name', 'télécommande'),)


def test_text_round_trip():
    steps = parse_program(FETCH)
    assert format_program(steps) == FETCH
    assert parse_program(format_program(steps)) == steps


def test_json_round_trip_and_form():
    steps = parse_program(FETCH)
    obj = steps_to_json_obj(steps)
    assert obj[0] == {'function': 'GET_LOCATION', 'args': [{'location_name': 'kitchen'}],
                      'store_result': '$kitchen'}
    assert obj[1] == {'function': 'GO', 'args': [{'to': '$kitchen'}]}
    text = steps_to_json(steps)
    assert json.loads(text) == obj
    assert steps_from_json(text) == steps
    assert steps_from_json(obj) == steps
    assert format_program(steps_from_json(text)) == FETCH


def test_json_accepts_an_args_mapping():
    steps = steps_from_json([{'function': 'GO', 'args': {'to': '$x'}}])
    assert steps == [Step('GO', (('to', '$x'),))]


@pytest.mark.parametrize('data', [
    'not json', '{"function": "GO"}', '[1]', '[{"args": []}]',
    '[{"function": "GO", "args": "to"}]', '[{"function": "GO", "args": [{"a": 1}]}]',
    '[{"function": "GO", "args": [{"a": "x", "b": "y"}]}]',
    '[{"function": "GO", "store_result": "x"}]',
])
def test_json_rejections(data):
    with pytest.raises(PlannerError) as info:
        steps_from_json(data)
    assert info.value.code == ErrorCode.INVALID_PLAN


def test_error_alone_is_a_refusal():
    assert _code('ERROR').code == ErrorCode.UNSUPPORTED_TASK
    assert _code('\n ERROR \n').code == ErrorCode.UNSUPPORTED_TASK


def test_rejects_bad_syntax():
    for text in ('GO to kitchen', 'GO(to kitchen)', 'GO(to:kitchen)', 'GO(to:$k',
                 'GO(to:$k) extra', '$k GET_LOCATION(location_name:"x")', '= GO(to:$k)',
                 'GO(to:$k,)', '123()'):
        err = _code(text)
        assert err.code == ErrorCode.INVALID_PLAN, text


def test_rejects_unterminated_string():
    err = _code('SEARCH(object_name:"banana)')
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'unterminated' in err.message


def test_rejects_control_character_in_string():
    err = _code('SEARCH(object_name:"ba\x01nana")')
    assert err.code == ErrorCode.INVALID_PLAN
    assert 'control' in err.message


def test_rejects_literal_starting_with_dollar():
    err = _code('SEARCH(object_name:"$banana")')
    assert err.code == ErrorCode.INVALID_PLAN
    assert '$' in err.message


def test_rejects_error_with_other_lines():
    for text in ('ERROR\nGO(to:$k)', 'GO(to:$k)\nERROR'):
        err = _code(text)
        assert err.code == ErrorCode.INVALID_PLAN, text
        assert 'ERROR' in err.message


def test_rejects_too_long_program():
    err = _code('GO(to:$k)\n' * (MAX_PROGRAM_CHARS // 10 + 1))
    assert err.code == ErrorCode.INVALID_PLAN
    assert str(MAX_PROGRAM_CHARS) in err.message


def test_rejects_too_many_lines():
    err = _code('\n'.join(['GO(to:$k)'] * (MAX_LINES + 1)))
    assert err.code == ErrorCode.INVALID_PLAN
    assert str(MAX_LINES) in err.message


def test_rejects_empty_and_non_text():
    assert _code('').code == ErrorCode.INVALID_PLAN
    assert _code(' \n\n ').code == ErrorCode.INVALID_PLAN
    assert _code(None).code == ErrorCode.INVALID_PLAN
