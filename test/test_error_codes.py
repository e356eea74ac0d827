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
The error codes are written in one place, llm_planner/core/errors.py.

The interface files' comments, the README's table and docs/architecture.md
list them for people; these tests check every list against errors.py, per
interface (the codes that interface can return), so a code added or dropped in
one place and not the others fails here.
"""

import os
import re

from llm_planner.core.errors import (ALL_CODES, CLI_PLAN_CODES, ErrorCode, EXECUTE_ACTION_CODES,
                                     PLAN_SERVICE_CODES, PLANNING_CODES)
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INTERFACES = os.path.join(ROOT, 'llm_planner_interfaces')
CODE_WORD = re.compile(r'\b[A-Z][A-Z_]*[A-Z]\b')


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding='utf-8') as f:
        return f.read()


def interface_codes(text, field='error_code'):
    """
    Return the codes named in the comment block right above ``string <field>``.

    Text in parentheses is a remark (what a code means, where the list
    comes from), not a code.
    """
    lines = text.splitlines()
    end = next(i for i, line in enumerate(lines) if line.split() == ['string', field])
    start = end
    while start > 0 and lines[start - 1].startswith('#'):
        start -= 1
    comment = ' '.join(line.lstrip('# ') for line in lines[start:end])
    while '(' in comment:  # nested remarks too
        stripped = re.sub(r'\([^()]*\)', '', comment)
        if stripped == comment:
            break
        comment = stripped
    return CODE_WORD.findall(comment)


def section(text, heading):
    """Return the text after the line ``heading`` up to the next heading."""
    after = text.split(f'\n{heading}\n', 1)[1]
    return re.split(r'\n#+ ', after, 1)[0]


def readme_codes():
    """Return the codes of the README's error table (first column, in backticks)."""
    text = read('README.md')
    start = text.index('Error codes, the same in the CLI')
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith('|'):
            rows.append(line)
        elif rows:
            break
    codes = []
    for row in rows[2:]:  # after the header and its rule
        codes += re.findall(r'`([A-Z_]+)`', row.split('|')[1])
    return codes


def test_the_codes_are_distinct_strings_named_as_their_values():
    names = [name for name in vars(ErrorCode) if name.isupper()]
    assert names and [getattr(ErrorCode, n) for n in names] == list(ALL_CODES)
    assert all(getattr(ErrorCode, n) == n for n in names)
    for codes in (PLANNING_CODES, PLAN_SERVICE_CODES, EXECUTE_ACTION_CODES, CLI_PLAN_CODES):
        assert len(set(codes)) == len(codes) and set(codes) <= set(ALL_CODES)
    # every code is returned by some interface
    assert set(EXECUTE_ACTION_CODES) | set(CLI_PLAN_CODES) == set(ALL_CODES)


@pytest.mark.parametrize('path, expected', [
    (('srv', 'Plan.srv'), PLAN_SERVICE_CODES),
    (('action', 'ExecuteTask.action'), EXECUTE_ACTION_CODES),
])
def test_interface_comment_lists_what_the_interface_returns(path, expected):
    listed = interface_codes(read('llm_planner_interfaces', *path))
    assert len(listed) == len(set(listed)), f'{path[-1]} names a code twice: {listed}'
    assert sorted(listed) == sorted(expected), (
        f'{path[-1]}: missing {sorted(set(expected) - set(listed))}, '
        f'not returned {sorted(set(listed) - set(expected))}')


def test_the_parser_sees_a_missing_code():
    text = read('llm_planner_interfaces', 'srv', 'Plan.srv').replace(' PREEMPTED,', '')
    assert ErrorCode.PREEMPTED not in interface_codes(text)
    assert ErrorCode.BUSY in interface_codes(text)


def test_readme_table_lists_every_code_once():
    listed = readme_codes()
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == sorted(ALL_CODES)


def test_architecture_lists_every_code():
    text = section(read('docs', 'architecture.md'), '## Error codes')
    listed = re.findall(r'`([A-Z][A-Z_]+[A-Z])`', text)
    assert sorted(set(listed) - {'PLAN_SERVICE_CODES', 'EXECUTE_ACTION_CODES',
                                 'CLI_PLAN_CODES'}) == sorted(ALL_CODES)
