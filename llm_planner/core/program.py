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
The plan language: one skill call per line, with ``$variables``.

::

    $kitchen = GET_LOCATION(location_name:"kitchen")
    GO(to:$kitchen)

A line reading ``ERROR`` alone means the model refuses the task. This module
only parses and prints; :mod:`llm_planner.core.validator` checks a plan against the
catalog. Nothing here ever evaluates model output as code.
"""

from dataclasses import dataclass
import json
import re

from llm_planner.core.errors import ErrorCode, PlannerError

REFUSAL = 'ERROR'
MAX_PROGRAM_CHARS = 8000
MAX_LINES = 64

# Limits of the plan language, one each for the grammar the model decodes
# under and for the validator (test_validator.py checks that they agree).
MAX_LITERAL = 48  # characters of a quoted literal
MAX_VAR = 24  # characters of a variable's name, without the '$'
VAR_RE = re.compile(rf'^\$[A-Za-z_][A-Za-z0-9_]{{0,{MAX_VAR - 1}}}$')
_HEAD_RE = re.compile(
    r'^(?:(?P<var>\$[A-Za-z_][A-Za-z0-9_]*)\s*=\s*)?(?P<fn>[A-Za-z_][A-Za-z0-9_]*)\s*\(')
_ARG_NAME_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*')
_VAR_VALUE_RE = re.compile(r'\$[A-Za-z_][A-Za-z0-9_]*')


@dataclass(frozen=True)
class Step:
    """
    One skill call: the function, its (name, value) arguments, where to store the result.

    A value is a literal string, or a ``$variable`` reference. Literals never
    start with ``$``.
    """

    function: str
    args: tuple = ()
    store_result: str = ''

    def text(self):
        """Return the call in the plan language, e.g. ``GO(to:$kitchen)``."""
        parts = []
        for name, value in self.args:
            parts.append(f'{name}:{value}' if is_variable(value) else f'{name}:{quote(value)}')
        call = f'{self.function}({", ".join(parts)})'
        return f'{self.store_result} = {call}' if self.store_result else call


def is_variable(value):
    """Return True when ``value`` is a ``$variable`` reference."""
    return isinstance(value, str) and value.startswith('$')


def quote(value):
    """Quote a literal for the plan language."""
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _invalid(message):
    return PlannerError(ErrorCode.INVALID_PLAN, message)


def _parse_string(line, pos, lineno):
    """Parse a double-quoted literal starting at line[pos] == '"'."""
    out = []
    i = pos + 1
    while i < len(line):
        c = line[i]
        if c == '\\' and i + 1 < len(line) and line[i + 1] in '"\\':
            out.append(line[i + 1])
            i += 2
            continue
        if c == '"':
            return ''.join(out), i + 1
        if ord(c) < 0x20 or c == '\x7f':
            raise _invalid(f'line {lineno}: control character in a string')
        out.append(c)
        i += 1
    raise _invalid(f'line {lineno}: unterminated string')


def parse_line(line, lineno=1):
    """Parse one call line into a :class:`Step`."""
    text = line.strip()
    head = _HEAD_RE.match(text)
    if not head:
        raise _invalid(f'line {lineno}: expected a call like NAME(arg:value), got {text[:80]!r}')
    pos = head.end()
    args = []
    if text[pos:].lstrip().startswith(')'):
        pos = text.index(')', pos) + 1
    else:
        while True:
            m = _ARG_NAME_RE.match(text, pos)
            if not m:
                raise _invalid(f'line {lineno}: expected name:value at column {pos + 1}')
            name = m.group(1)
            pos = m.end()
            if pos < len(text) and text[pos] == '"':
                value, pos = _parse_string(text, pos, lineno)
                if value.startswith('$'):
                    raise _invalid(f'line {lineno}: a literal may not start with $')
            else:
                v = _VAR_VALUE_RE.match(text, pos)
                if not v:
                    raise _invalid(
                        f'line {lineno}: argument {name} needs a "literal" or a $variable')
                value = v.group(0)
                pos = v.end()
            args.append((name, value))
            while pos < len(text) and text[pos] == ' ':
                pos += 1
            if pos < len(text) and text[pos] == ',':
                pos += 1
                continue
            if pos < len(text) and text[pos] == ')':
                pos += 1
                break
            raise _invalid(f'line {lineno}: expected , or ) at column {pos + 1}')
    if text[pos:].strip():
        raise _invalid(f'line {lineno}: unexpected text after the call: {text[pos:][:40]!r}')
    return Step(head.group('fn'), tuple(args), head.group('var') or '')


def parse_program(text):
    """
    Parse a whole program; raise PlannerError (UNSUPPORTED_TASK for ERROR, else INVALID_PLAN).

    Blank lines are ignored. ``ERROR`` as the only line is the model's refusal.
    """
    if not isinstance(text, str):
        raise _invalid('the plan is not text')
    if len(text) > MAX_PROGRAM_CHARS:
        raise _invalid(f'the plan is longer than {MAX_PROGRAM_CHARS} characters')
    lines = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise _invalid('the plan is empty')
    if len(lines) > MAX_LINES:
        raise _invalid(f'the plan has more than {MAX_LINES} lines')
    if lines[0][1].strip() == REFUSAL:
        if len(lines) > 1:
            raise _invalid('ERROR must be the only line of a plan')
        raise PlannerError(ErrorCode.UNSUPPORTED_TASK,
                           "the robot's skills cannot do this task")
    steps = []
    for lineno, line in lines:
        if line.strip() == REFUSAL:
            raise _invalid(f'line {lineno}: ERROR must be the only line of a plan')
        steps.append(parse_line(line, lineno))
    return steps


def format_program(steps):
    """Return the plan as text, one call per line."""
    return '\n'.join(step.text() for step in steps)


def steps_to_json_obj(steps):
    """Return the seed's JSON form: a list of {function, args: [{name: value}], store_result}."""
    out = []
    for step in steps:
        item = {'function': step.function, 'args': [{n: v} for n, v in step.args]}
        if step.store_result:
            item['store_result'] = step.store_result
        out.append(item)
    return out


def steps_to_json(steps, **kwargs):
    """Return the seed's JSON form as a string."""
    return json.dumps(steps_to_json_obj(steps), ensure_ascii=False, **kwargs)


def steps_from_json(data):
    """Parse the seed's JSON form (a string or the decoded list) into steps."""
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError as e:
            raise _invalid(f'not JSON: {e}') from e
    if not isinstance(data, list):
        raise _invalid('expected a JSON list of steps')
    steps = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get('function'), str):
            raise _invalid(f'step {i}: expected an object with a "function" string')
        raw_args = item.get('args', [])
        if isinstance(raw_args, dict):
            raw_args = [{k: v} for k, v in raw_args.items()]
        if not isinstance(raw_args, list):
            raise _invalid(f'step {i}: "args" must be a list')
        args = []
        for a in raw_args:
            if not isinstance(a, dict) or len(a) != 1:
                raise _invalid(f'step {i}: each argument must be a one-key object')
            (name, value), = a.items()
            if not isinstance(value, str):
                raise _invalid(f'step {i}: argument {name} must be a string')
            args.append((name, value))
        store = item.get('store_result') or ''
        if not isinstance(store, str) or (store and not VAR_RE.match(store)):
            raise _invalid(f'step {i}: store_result must be "" or a $name')
        steps.append(Step(item['function'], tuple(args), store))
    return steps
