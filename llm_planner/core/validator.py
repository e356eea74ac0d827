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

from llm_planner.core.catalog import LOCATION, STRING, VALUES_LOCATIONS
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import is_variable, MAX_LITERAL, VAR_RE

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
                    raise PlannerError(ErrorCode.UNKNOWN_LOCATION,
                                       semantic_map.not_on_map(value))
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


def tidy(steps, catalog):
    """
    Return ``steps`` in the plan's plain form: the same robot actions, nothing redone.

    * a block repeated right after itself goes (:func:`collapse_repeats`);
    * a call on a variable that repeats the latest call of the same skill
      goes (``GO(to:$kitchen)``, a search and a grab there, then
      ``GO(to:$kitchen)`` again: the robot is there already);
    * a lookup of the map (a skill with ``run: {kind: map}``: no effect on
      the robot) moves to just before the first step that uses it, as the
      examples write it (all lookups first, then all moves, is the same
      plan in another order).

    A plan the validator refuses (the map aside) comes back as
    :func:`collapse_repeats` leaves it: which line is wrong is for the
    planner's repair to find, in the model's order.
    """
    steps = collapse_repeats(steps)
    try:
        validate(steps, catalog, None, max_steps=max(len(steps), 1))
    except PlannerError:
        return steps
    kept, latest = [], {}
    for step in steps:
        on_a_variable = any(is_variable(v) for _, v in step.args)
        if on_a_variable and not step.store_result and latest.get(step.function) == step:
            continue
        if not step.store_result:
            latest[step.function] = step
        kept.append(step)
    out = []
    pending = {}
    for step in kept:
        skill = catalog.get(step.function)
        if (skill is not None and skill.is_map_lookup and step.store_result
                and not any(is_variable(v) for _, v in step.args)
                and step.store_result not in pending):
            pending[step.store_result] = step
            continue
        for _, value in step.args:
            if value in pending:
                out.append(pending.pop(value))
        if step.store_result in pending:  # re-assigned before any use: keep the order
            out.append(pending.pop(step.store_result))
        out.append(step)
    out.extend(pending.values())  # never used: left where the validator sees them, last
    return out


__all__ = ['collapse_repeats', 'tidy', 'validate', 'DEFAULT_MAX_STEPS', 'STRING', 'LOCATION']
