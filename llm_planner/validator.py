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
Check a parsed plan against the skill catalog and the semantic map.

Only a plan that passes here can reach the executor: every call names a
catalog skill with the declared arguments and types, every variable is
assigned before use with the right type, and every place is on the map.
"""

from llm_planner.catalog import LOCATION, STRING, VALUES_LOCATIONS
from llm_planner.errors import ErrorCode, PlannerError
from llm_planner.program import is_variable, MAX_LITERAL, VAR_RE

DEFAULT_MAX_STEPS = 16


def _invalid(index, step, message):
    return PlannerError(ErrorCode.INVALID_PLAN, f'step {index + 1} ({step.function}): {message}')


def validate(steps, catalog, semantic_map=None, max_steps=DEFAULT_MAX_STEPS):
    """
    Raise PlannerError (INVALID_PLAN or UNKNOWN_LOCATION) unless the plan is sound.

    Returns the variable types ({'$name': 'LOCATION'|'STRING'}) on success.
    """
    if not steps:
        raise PlannerError(ErrorCode.INVALID_PLAN, 'the plan has no step')
    if len(steps) > max_steps:
        raise PlannerError(ErrorCode.INVALID_PLAN,
                           f'the plan has {len(steps)} steps; the limit is {max_steps}')
    types = {}
    for index, step in enumerate(steps):
        skill = catalog.get(step.function)
        if skill is None:
            raise _invalid(index, step,
                           f'unknown skill; the robot knows {", ".join(catalog.names)}')
        names = [name for name, _ in step.args]
        if len(set(names)) != len(names):
            raise _invalid(index, step, 'an argument is given twice')
        declared = [a.name for a in skill.args]
        if set(names) != set(declared):
            raise _invalid(index, step, f'takes ({", ".join(declared) or "no argument"}), '
                                        f'got ({", ".join(names) or "no argument"})')
        for name, value in step.args:
            arg = skill.arg(name)
            if is_variable(value):
                if value not in types:
                    raise _invalid(index, step, f'{value} is used before it is assigned')
                if types[value] != arg.type:
                    raise _invalid(index, step, f'{name} needs a {arg.type}, '
                                                f'{value} is a {types[value]}')
                continue
            if arg.type == LOCATION:
                raise _invalid(index, step, f'{name} needs a LOCATION variable, '
                                            f'not the literal {value!r}')
            if not value.strip() or len(value) > MAX_LITERAL:
                raise _invalid(index, step, f'{name} needs a non-empty text of at most '
                                            f'{MAX_LITERAL} characters')
            if arg.values == VALUES_LOCATIONS and semantic_map is not None:
                if semantic_map.resolve(value) is None:
                    known = ', '.join(semantic_map.names)
                    raise PlannerError(
                        ErrorCode.UNKNOWN_LOCATION,
                        f'{value!r} is not on the semantic map; known places: {known}')
        if step.store_result:
            if not VAR_RE.match(step.store_result):
                raise _invalid(index, step, f'bad variable name {step.store_result!r}')
            if not skill.returns:
                raise _invalid(index, step, 'returns nothing, so nothing can be stored')
            previous = types.get(step.store_result)
            if previous is not None and previous != skill.returns:
                raise _invalid(index, step, f'{step.store_result} was a {previous}, '
                                            f'cannot become a {skill.returns}')
            types[step.store_result] = skill.returns
    return types


def collapse_repeats(steps):
    """
    Return ``steps`` without a block of calls repeated right after itself.

    ``SEARCH x, GRAB x, SEARCH x, GRAB x`` is the same two calls on the same
    variable twice in a row: the robot would redo what it just did. The
    second copy goes. A block whose calls name no variable (``PATROL()``
    twice: two rounds) and a call repeated after something else happened
    (back to a place after another) stay.
    """
    steps = list(steps)
    changed = True
    while changed:
        changed = False
        for size in range(1, len(steps) // 2 + 1):
            for i in range(len(steps) - 2 * size + 1):
                block = steps[i:i + size]
                on_a_variable = any(is_variable(v) for step in block for _, v in step.args)
                if on_a_variable and block == steps[i + size:i + 2 * size]:
                    del steps[i + size:i + 2 * size]
                    changed = True
                    break
            if changed:
                break
    return steps


__all__ = ['collapse_repeats', 'validate', 'DEFAULT_MAX_STEPS', 'STRING', 'LOCATION']
