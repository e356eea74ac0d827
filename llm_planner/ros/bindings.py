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
The ``run: {kind: action}`` binding schema of a catalog skill.

An :class:`ActionBinding` is checked when the node configures (the action
type is imported from the catalog's ``pkg/action/Name`` string only, each
goal field and result field must exist and each constant must fit its
field); at run time it makes the goal of a call and reads its result.
"""

import importlib
import re

from llm_planner.core.catalog import LOCATION, STRING
from llm_planner.core.errors import ErrorCode, EXECUTE_ACTION_CODES
from llm_planner.execution import KIND_ACTION, Pose
from llm_planner.ros.messages import msg_to_pose, pose_to_msg, pose_to_stamped

ACTION_TYPE_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)/action/([A-Z][A-Za-z0-9_]*)$')
_POSE_STAMPED = 'geometry_msgs/PoseStamped'
_POSE = 'geometry_msgs/Pose'
_STRING_TYPES = ('string',)


class BindingError(ValueError):
    """A skill's ``run:`` binding cannot be used."""


def load_action_type(type_name):
    """Import an action type from its ``pkg/action/Name`` string (from the catalog only)."""
    m = ACTION_TYPE_RE.match(type_name if isinstance(type_name, str) else '')
    if not m:
        raise BindingError(f'action type {type_name!r} is not of the form pkg/action/Name')
    package, name = m.groups()
    try:
        module = importlib.import_module(f'{package}.action')
    except ImportError as e:
        raise BindingError(f'cannot import action type {type_name}: {e}') from e
    action = getattr(module, name, None)
    if action is None or not all(hasattr(action, a) for a in ('Goal', 'Result', 'Feedback')):
        raise BindingError(f'{type_name} is not an action type')
    return action


def _fields(msg_class):
    return msg_class.get_fields_and_field_types()


_INT_TYPES = frozenset(('int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64',
                        'uint64', 'octet', 'char', 'byte'))
_FLOAT_TYPES = frozenset(('float', 'double', 'float32', 'float64'))


def _constant_fits(ftype, value):
    """Return True when a YAML constant suits a field of ROS type ``ftype``."""
    if ftype.startswith('sequence<') or ftype.endswith(']'):
        return isinstance(value, (list, tuple))
    if ftype == 'boolean':
        return isinstance(value, bool)
    if ftype in _INT_TYPES:
        return isinstance(value, int) and not isinstance(value, bool)
    if ftype in _FLOAT_TYPES:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ftype.startswith('string') or ftype.startswith('wstring'):
        return isinstance(value, str)
    return False  # a message field takes a mapping


def _set_fields(msg, values, where):
    """Set message fields from a mapping of constants (nested mappings for sub-messages)."""
    fields = _fields(type(msg))
    for key, value in values.items():
        if key not in fields:
            raise BindingError(f'{where}: {type(msg).__name__} has no field {key!r}')
        if isinstance(value, dict):
            if '/' not in fields[key]:
                raise BindingError(f'{where}.{key}: a {fields[key]} takes a value, '
                                   f'not a mapping')
            _set_fields(getattr(msg, key), value, f'{where}.{key}')
            continue
        if not _constant_fits(fields[key], value):
            raise BindingError(f'{where}.{key}: cannot set {value!r} on a {fields[key]} field')
        if fields[key] in _FLOAT_TYPES:
            value = float(value)
        try:
            setattr(msg, key, value)
        except (TypeError, ValueError, AssertionError) as e:
            raise BindingError(f'{where}.{key}: cannot set {value!r}: {e}') from e


class ActionBinding:
    """A checked ``run: {kind: action, ...}`` binding of one skill."""

    def __init__(self, skill):
        run = skill.run or {}
        where = f'skill {skill.name}: run'
        self.skill = skill
        self.type_name = run.get('type')
        self.action = load_action_type(self.type_name)
        self.server = run.get('server')
        if not isinstance(self.server, str) or not self.server.strip():
            raise BindingError(f'{where}.server must be an action server name')
        goal_fields = _fields(self.action.Goal)
        result_fields = _fields(self.action.Result)
        goal = run.get('goal') or {}
        if not isinstance(goal, dict):
            raise BindingError(f'{where}.goal must be a mapping of goal field -> value')
        self.goal_args = {}  # goal field -> skill argument name
        self.goal_sources = {}  # goal field -> (argument name, argument of its source call)
        self.goal_constants = {}
        for key, value in goal.items():
            if key not in goal_fields:
                raise BindingError(f'{where}.goal: {self.type_name} Goal has no field {key!r} '
                                   f'(fields: {", ".join(goal_fields)})')
            if isinstance(value, str) and value.startswith('$') and '.' in value:
                self.goal_sources[key] = self._source(skill, key, value, goal_fields, where)
            elif isinstance(value, str) and value.startswith('$'):
                arg = skill.arg(value[1:])
                if arg is None:
                    raise BindingError(f'{where}.goal.{key}: {value} is not an argument of '
                                       f'{skill.name}')
                ftype = goal_fields[key]
                if arg.type == LOCATION and ftype not in (_POSE_STAMPED, _POSE):
                    raise BindingError(f'{where}.goal.{key}: a LOCATION needs a '
                                       f'PoseStamped or Pose field, {key} is {ftype}')
                if arg.type == STRING and ftype not in _STRING_TYPES:
                    raise BindingError(f'{where}.goal.{key}: a STRING needs a string field, '
                                       f'{key} is {ftype}')
                self.goal_args[key] = arg.name
            else:
                self.goal_constants[key] = value
        # Check the constants once, on a scratch goal.
        _set_fields(self.action.Goal(), self.goal_constants, f'{where}.goal')
        success = run.get('success')
        self.success_field = self.success_equals = None
        if success is not None:
            if not isinstance(success, dict) or set(success) != {'field', 'equals'}:
                raise BindingError(f'{where}.success must be {{field: ..., equals: ...}}')
            if success['field'] not in result_fields:
                raise BindingError(f'{where}.success: {self.type_name} Result has no field '
                                   f'{success["field"]!r}')
            self.success_field, self.success_equals = success['field'], success['equals']
        self.error_code_field = self._result_field(run, 'error_code_field', result_fields, where)
        self.message_field = self._result_field(run, 'message_field', result_fields, where)
        self.result_field = self._result_field(run, 'result', result_fields, where)
        if skill.returns == LOCATION:
            if not self.result_field:
                raise BindingError(f'{where}.result: {skill.name} returns a LOCATION; name the '
                                   f'Result field holding it')
            if result_fields[self.result_field] not in (_POSE_STAMPED, _POSE):
                raise BindingError(f'{where}.result: {self.result_field} is not a pose')
        elif skill.returns == STRING:
            if not self.result_field or result_fields[self.result_field] not in _STRING_TYPES:
                raise BindingError(f'{where}.result: {skill.name} returns a STRING; name a '
                                   f'string Result field')
        self.failure_code = run.get('failure_code', ErrorCode.STEP_FAILED)
        if self.failure_code not in EXECUTE_ACTION_CODES:  # a code the action can return
            raise BindingError(f'{where}.failure_code: {self.failure_code!r} is not an error code')

    @staticmethod
    def _source(skill, key, value, goal_fields, where):
        """Check ``$arg.name``: ``arg`` a LOCATION argument, the goal field a string."""
        arg_name, _, source_arg = value[1:].partition('.')
        arg = skill.arg(arg_name)
        if arg is None or arg.type != LOCATION:
            raise BindingError(f'{where}.goal.{key}: {value}: {arg_name} is not a LOCATION '
                               f'argument of {skill.name}')
        if not re.fullmatch(r'[a-z_][a-z0-9_]*', source_arg):
            raise BindingError(f'{where}.goal.{key}: {value}: {source_arg!r} is not an '
                               f'argument name')
        if goal_fields[key] not in _STRING_TYPES:
            raise BindingError(f'{where}.goal.{key}: {value} needs a string field, {key} is '
                               f'{goal_fields[key]}')
        return arg_name, source_arg

    @staticmethod
    def _result_field(run, key, result_fields, where):
        value = run.get(key)
        if value is None:
            return None
        if value not in result_fields:
            raise BindingError(f'{where}.{key}: the Result has no field {value!r}')
        return value

    def make_goal(self, args, stamp=None, sources=None):
        """
        Return the goal message for a call's resolved arguments.

        ``sources``: for each argument given a variable, the literal arguments
        of the call that stored it (see ``StepCall.sources``); a ``$arg.name``
        goal field gets that call's ``name`` argument, or stays empty.
        """
        goal = self.action.Goal()
        _set_fields(goal, self.goal_constants, 'goal')
        fields = _fields(self.action.Goal)
        for key, (arg, source_arg) in self.goal_sources.items():
            value = (sources or {}).get(arg, {}).get(source_arg)
            if value is not None:
                setattr(goal, key, str(value))
        for key, arg in self.goal_args.items():
            value = args[arg]
            if isinstance(value, Pose):
                if fields[key] == _POSE_STAMPED:
                    setattr(goal, key, pose_to_stamped(value, stamp))
                else:
                    setattr(goal, key, pose_to_msg(value))
            else:
                setattr(goal, key, str(value))
        return goal

    def succeeded(self, result):
        """Apply the ``success`` test to a Result (True when there is none)."""
        if self.success_field is None:
            return True
        return getattr(result, self.success_field) == self.success_equals

    def details(self, result):
        """Return the server's error code and message from a Result, as text."""
        parts = []
        if self.error_code_field:
            parts.append(f'{self.error_code_field} {getattr(result, self.error_code_field)}')
        if self.message_field:
            message = getattr(result, self.message_field)
            if message:
                parts.append(repr(message))
        return ': '.join(parts)

    def value(self, result):
        """Return the step's value from a Result (None for skills that return nothing)."""
        if not self.skill.returns:
            return None
        raw = getattr(result, self.result_field)
        if self.skill.returns == LOCATION:
            return msg_to_pose(raw)
        return str(raw)


def action_bindings(catalog):
    """Return ``{skill name: ActionBinding}`` for the catalog's action skills (BindingError)."""
    bindings = {}
    for skill in catalog:
        if skill.run and skill.run.get('kind') == KIND_ACTION:
            bindings[skill.name] = ActionBinding(skill)
    return bindings
