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
The ROS side of the skill runners: action goals and the robot's pose topic.

Everything here runs inside coroutine callbacks of a MultiThreadedExecutor
(the node's ``ReentrantCallbackGroup``) and never blocks a thread on a
future: it awaits.

Awaiting with a timeout (:class:`Waits`). An rclpy coroutine that awaits an
rclpy ``Future`` is resumed by the executor when it wakes up. Futures
completed by executor callbacks (action responses, timers, services) wake it
right away; a future completed from a foreign thread may not (ros2/rclpy#1467)
and a one-shot timer created inside a coroutine may not be waited on until
the wait set is rebuilt (ros2/rclpy#985). So the node owns ONE persistent
periodic timer (the "tick", 20 Hz): each wait is a small rclpy Future that is
completed by whichever comes first of (a) a done-callback on the awaited
futures, (b) the cancel token's callback, (c) the tick once the wait's
deadline has passed. The tick's callback also wakes the executor, which
bounds the latency of (b) from a foreign thread to one tick. This works the
same on Humble and Jazzy, and on later rclpy whose futures wake their task.

Action steps (:class:`ActionRunner`), one ``rclpy.action.ActionClient`` per
``(type, server)`` of the catalog's ``run:`` bindings; the action type is
imported from the catalog's ``pkg/action/Name`` string only:

* server not discovered within ``server_timeout`` -> SERVER_UNAVAILABLE
* goal not accepted -> GOAL_REJECTED
* status ABORTED -> STEP_FAILED with the server's error code and message
* status SUCCEEDED but the binding's ``success`` test fails -> the binding's
  ``failure_code`` (e.g. SEARCH ``found: false`` -> OBJECT_NOT_FOUND)
* status CANCELED not asked for by us -> STEP_FAILED
* the step's deadline (binding ``timeout``, else the node's ``step_timeout``)
  passes -> a cancel request goes to the server, then TIMEOUT
* the server vanishes from the graph during the goal -> SERVER_UNAVAILABLE
* the caller's cancel -> a cancel request goes to the server and the runner
  waits (bounded) for the goal to end, then CANCELED (or PREEMPTED)
"""

import importlib
import math
import re
import threading
import time

from action_msgs.msg import GoalStatus
from geometry_msgs.msg import Pose as PoseMsg
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from llm_planner.catalog import LOCATION, STRING
from llm_planner.errors import ErrorCode, EXECUTE_ACTION_CODES, PlannerError
from llm_planner.execution import KIND_ACTION, Pose
from rclpy.action import ActionClient
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.task import Future

DONE = 'done'
TIMEOUT = 'timeout'
CANCELED = 'canceled'

TICK_PERIOD = 0.05
# How long a caller's cancel or a timeout waits for the server to end the goal.
CANCEL_WAIT = 5.0
# How often a running goal checks that its server is still on the graph, and
# how long the server may be missing before the step fails.
LIVENESS_PERIOD = 0.5
LIVENESS_GRACE = 1.0

ACTION_TYPE_RE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)/action/([A-Z][A-Za-z0-9_]*)$')
_POSE_STAMPED = 'geometry_msgs/PoseStamped'
_POSE = 'geometry_msgs/Pose'
_STRING_TYPES = ('string',)
_STATUS_NAMES = {
    GoalStatus.STATUS_UNKNOWN: 'UNKNOWN', GoalStatus.STATUS_ACCEPTED: 'ACCEPTED',
    GoalStatus.STATUS_EXECUTING: 'EXECUTING', GoalStatus.STATUS_CANCELING: 'CANCELING',
    GoalStatus.STATUS_SUCCEEDED: 'SUCCEEDED', GoalStatus.STATUS_CANCELED: 'CANCELED',
    GoalStatus.STATUS_ABORTED: 'ABORTED',
}


class BindingError(ValueError):
    """A skill's ``run:`` binding cannot be used."""


# --- waiting -----------------------------------------------------------------

class _Wait:
    def __init__(self, deadline, notify=None):
        self.deadline = deadline
        self.future = Future()
        self._lock = threading.Lock()
        self._notify = notify

    def wake(self, *_):
        with self._lock:
            if self.future.done():
                return
            self.future.set_result(None)
        if self._notify is not None:
            self._notify()


class Waits:
    """
    Awaitable waits with timeouts for rclpy coroutine callbacks.

    Owns one periodic timer on ``node`` in ``callback_group``; call
    :meth:`destroy` to remove it.
    """

    def __init__(self, node, callback_group=None, period=TICK_PERIOD):
        self._node = node
        self._lock = threading.Lock()
        self._waits = set()
        self._timer = node.create_timer(period, self._tick, callback_group=callback_group)
        # A wake from another thread (a planning thread, a DDS callback) triggers
        # this guard condition so the executor resumes the waiting coroutine at
        # once rather than at the next timer tick.
        self._guard = node.create_guard_condition(self._on_guard, callback_group=callback_group)

    def destroy(self):
        """Remove the timer and wake every pending wait (they report TIMEOUT)."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        if self._guard is not None:
            self._node.destroy_guard_condition(self._guard)
            self._guard = None
        with self._lock:
            waits, self._waits = list(self._waits), set()
        for wait in waits:
            wait.wake()

    def _on_guard(self):
        pass  # being woken is the point: the executor then resumes ready coroutines

    def _notify(self):
        guard = self._guard
        if guard is not None:
            try:
                guard.trigger()
            except Exception:  # noqa: B902 (destroyed meanwhile: the timer still wakes it)
                pass

    def _tick(self):
        now = time.monotonic()
        with self._lock:
            expired = [w for w in self._waits if w.deadline <= now]
        for wait in expired:
            wait.wake()

    async def wait(self, futures=(), timeout=None, cancel=None):
        """
        Wait until one of ``futures`` is done, ``cancel`` is set or ``timeout`` s passed.

        Returns DONE, CANCELED or TIMEOUT (in that order of precedence when
        several hold). ``timeout`` None means no deadline (avoid it).
        """
        futures = [f for f in futures if f is not None]

        def outcome():
            if any(f.done() for f in futures):
                return DONE
            if cancel is not None and cancel.is_set():
                return CANCELED
            return None

        deadline = math.inf if timeout is None else time.monotonic() + max(0.0, timeout)
        result = outcome()
        if result is not None:
            return result
        if deadline <= time.monotonic():
            return TIMEOUT
        wait = _Wait(deadline, self._notify)
        for f in futures:
            f.add_done_callback(wait.wake)
        if cancel is not None:
            cancel.add_callback(wait.wake)
        with self._lock:
            self._waits.add(wait)
        try:
            await wait.future
        finally:
            with self._lock:
                self._waits.discard(wait)
            for f in futures:
                remove = getattr(f, 'remove_done_callback', None)  # not in Humble
                if remove is not None:
                    remove(wait.wake)
            if cancel is not None:
                cancel.remove_callback(wait.wake)
        return outcome() or TIMEOUT

    async def until(self, predicate, timeout, cancel=None, period=TICK_PERIOD):
        """Poll ``predicate()`` each ``period`` until true (DONE), cancel or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return DONE
            if cancel is not None and cancel.is_set():
                return CANCELED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TIMEOUT
            if await self.wait((), min(period, remaining), cancel) == CANCELED:
                return CANCELED


# --- conversions -------------------------------------------------------------

def yaw_to_quaternion(yaw):
    """Return ``(x, y, z, w)`` of a rotation by ``yaw`` about z."""
    return 0.0, 0.0, math.sin(yaw / 2.0), math.cos(yaw / 2.0)


def quaternion_to_yaw(x, y, z, w):
    """Return the rotation about z (radians) of a quaternion."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def pose_to_msg(pose, msg=None):
    """Fill a geometry_msgs/Pose from a :class:`Pose`."""
    msg = msg if msg is not None else PoseMsg()
    msg.position.x = float(pose.x)
    msg.position.y = float(pose.y)
    msg.position.z = 0.0
    qx, qy, qz, qw = yaw_to_quaternion(float(pose.yaw))
    msg.orientation.x, msg.orientation.y = qx, qy
    msg.orientation.z, msg.orientation.w = qz, qw
    return msg


def pose_to_stamped(pose, stamp=None):
    """Return the geometry_msgs/PoseStamped of a :class:`Pose` (``stamp``: a Time msg)."""
    msg = PoseStamped()
    msg.header.frame_id = pose.frame
    if stamp is not None:
        msg.header.stamp = stamp
    pose_to_msg(pose, msg.pose)
    return msg


def msg_to_pose(msg, frame=''):
    """Return the :class:`Pose` of a Pose, PoseStamped or PoseWithCovarianceStamped msg."""
    if hasattr(msg, 'header'):
        frame = msg.header.frame_id
    pose = msg.pose
    if hasattr(pose, 'pose'):  # PoseWithCovarianceStamped.pose is a PoseWithCovariance
        pose = pose.pose
    if hasattr(msg, 'position'):  # a bare Pose
        pose = msg
    q = pose.orientation
    return Pose(frame, float(pose.position.x), float(pose.position.y),
                quaternion_to_yaw(q.x, q.y, q.z, q.w))


def stamp_seconds(stamp):
    """Return a builtin_interfaces/Time as seconds, or None for the zero stamp."""
    if stamp.sec == 0 and stamp.nanosec == 0:
        return None
    return stamp.sec + stamp.nanosec * 1e-9


# --- action bindings ---------------------------------------------------------

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


class SafeActionClient(ActionClient):
    """
    An ActionClient without the request/response race of ros2/rclpy#1123.

    Under a MultiThreadedExecutor a fast response can be processed before
    ``send_goal_async`` (or the cancel and result requests) has recorded its
    sequence number; the response is then dropped ("Ignoring unexpected goal
    response") and its future never completes. As in the upstream fix
    (ros2/rclpy#1308), one lock covers sending a request with its bookkeeping
    and processing the responses. Harmless where rclpy already has the fix.
    Feedback callbacks must be plain functions (not coroutines): they run
    under the lock.
    """

    def __init__(self, *args, **kwargs):
        self._race_lock = threading.RLock()
        super().__init__(*args, **kwargs)

    def send_goal_async(self, *args, **kwargs):
        """Send a goal (see ActionClient.send_goal_async), atomically with its bookkeeping."""
        with self._race_lock:
            return super().send_goal_async(*args, **kwargs)

    def _cancel_goal_async(self, goal_handle):
        with self._race_lock:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle):
        with self._race_lock:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data):
        """Process responses, never in the middle of a request's bookkeeping."""
        with self._race_lock:
            return await super().execute(taken_data)


class ActionRunner:
    """
    The ``action`` runner: one goal per step, on clients made at construction.

    ``server_timeout`` (seconds, or a callable) bounds server discovery.
    ``feedback(call, feedback_msg)``, when given, receives the server's feedback.
    """

    def __init__(self, node, catalog, waits, server_timeout, callback_group=None,
                 feedback=None, cancel_wait=CANCEL_WAIT):
        self._node = node
        self._waits = waits
        self._server_timeout = server_timeout
        self._feedback = feedback
        self._cancel_wait = cancel_wait
        self._log = node.get_logger()
        self.bindings = action_bindings(catalog)
        self._clients = {}
        for binding in self.bindings.values():
            key = (binding.type_name, binding.server)
            if key not in self._clients:
                self._clients[key] = SafeActionClient(node, binding.action, binding.server,
                                                      callback_group=callback_group)

    def destroy(self):
        """Destroy the action clients."""
        for client in self._clients.values():
            client.destroy()
        self._clients = {}

    def _fail(self, code, call, binding, text):
        return PlannerError(code, f'{binding.server} ({binding.type_name}): {text}')

    async def __call__(self, call):
        binding = self.bindings.get(call.skill.name)
        if binding is None:
            raise PlannerError(ErrorCode.INTERNAL_ERROR,
                               f'{call.skill.name} has no action binding')
        client = self._clients[(binding.type_name, binding.server)]
        cancel = call.cancel
        deadline = time.monotonic() + call.timeout

        def remaining():
            return deadline - time.monotonic()

        # 1. The server must be on the graph.
        if not client.server_is_ready():
            server_timeout = float(self._server_timeout() if callable(self._server_timeout)
                                   else self._server_timeout)
            outcome = await self._waits.until(client.server_is_ready,
                                              min(server_timeout, remaining()), cancel)
            if outcome == CANCELED:
                raise PlannerError(ErrorCode.CANCELED, 'canceled before the goal was sent')
            if outcome == TIMEOUT:
                if remaining() <= 0:
                    raise self._fail(ErrorCode.TIMEOUT, call, binding,
                                     f'server not available within the step timeout '
                                     f'{call.timeout:g} s')
                raise self._fail(ErrorCode.SERVER_UNAVAILABLE, call, binding,
                                 f'action server not available after {server_timeout:g} s')

        # 2. Send the goal. A live server answers at once (accepted or not): no
        # answer within server_timeout means it is gone, even if the graph
        # still lists it (a dead process stays listed until its DDS lease ends).
        server_timeout = float(self._server_timeout() if callable(self._server_timeout)
                               else self._server_timeout)
        goal = binding.make_goal(call.args, self._node.get_clock().now().to_msg(),
                                 getattr(call, 'sources', None))
        send_future = client.send_goal_async(goal, feedback_callback=self._feedback_for(call))
        outcome = await self._waits.wait([send_future], min(server_timeout, remaining()), cancel)
        if outcome != DONE:
            # No goal handle yet: give the answer a moment, then cancel the goal if accepted.
            await self._waits.wait([send_future], self._cancel_wait)
            if send_future.done() and send_future.result() is not None \
                    and send_future.result().accepted:
                await self._cancel_goal(send_future.result(), None, binding)
            if outcome == CANCELED:
                raise PlannerError(ErrorCode.CANCELED, 'canceled while the goal was being sent')
            if remaining() > 0:
                raise self._fail(ErrorCode.SERVER_UNAVAILABLE, call, binding,
                                 f'no answer to the goal request within {server_timeout:g} s '
                                 f'(server_timeout): the server is not responding')
            raise self._fail(ErrorCode.TIMEOUT, call, binding,
                             f'no answer to the goal within the step timeout {call.timeout:g} s')
        handle = send_future.result()
        if handle is None or not handle.accepted:
            raise self._fail(ErrorCode.GOAL_REJECTED, call, binding, 'the goal was rejected')

        # 3. Wait for the result, watching the deadline, the cancel and the server.
        result_future = handle.get_result_async()
        missing_since = None
        while True:
            outcome = await self._waits.wait(
                [result_future], min(LIVENESS_PERIOD, max(0.0, remaining())), cancel)
            if outcome == DONE:
                break
            if outcome == CANCELED:
                await self._cancel_goal(handle, result_future, binding)
                raise PlannerError(ErrorCode.CANCELED,
                                   f'goal on {binding.server} canceled')
            if remaining() <= 0:
                await self._cancel_goal(handle, result_future, binding)
                raise self._fail(ErrorCode.TIMEOUT, call, binding,
                                 f'the goal took longer than the step timeout {call.timeout:g} s'
                                 f' (cancel requested)')
            if client.server_is_ready():
                missing_since = None
            elif missing_since is None:
                missing_since = time.monotonic()
            elif time.monotonic() - missing_since >= LIVENESS_GRACE:
                raise self._fail(ErrorCode.SERVER_UNAVAILABLE, call, binding,
                                 'the action server went away during the goal')

        # 4. Final status and the binding's success test.
        response = result_future.result()
        status, result = response.status, response.result
        if status == GoalStatus.STATUS_SUCCEEDED:
            if not binding.succeeded(result):
                details = binding.details(result)
                raise self._fail(binding.failure_code, call, binding,
                                 f'the goal succeeded but {binding.success_field} is '
                                 f'{getattr(result, binding.success_field)!r}'
                                 + (f' ({details})' if details else ''))
            return binding.value(result)
        details = binding.details(result)
        if status == GoalStatus.STATUS_ABORTED:
            raise self._fail(ErrorCode.STEP_FAILED, call, binding,
                             'the goal was aborted' + (f': {details}' if details else ''))
        if status == GoalStatus.STATUS_CANCELED:
            if cancel.is_set():
                raise PlannerError(ErrorCode.CANCELED, f'goal on {binding.server} canceled')
            raise self._fail(ErrorCode.STEP_FAILED, call, binding,
                             'the server canceled the goal' + (f': {details}' if details else ''))
        raise self._fail(ErrorCode.STEP_FAILED, call, binding,
                         f'the goal ended with status {_STATUS_NAMES.get(status, status)}')

    def _feedback_for(self, call):
        if self._feedback is None:
            return None

        def on_feedback(msg):
            try:
                self._feedback(call, msg.feedback)
            except Exception as e:  # noqa: BLE001 - feedback is informative only
                self._log.warning(f'feedback callback failed: {e!r}', throttle_duration_sec=10.0)
        return on_feedback

    async def _cancel_goal(self, handle, result_future, binding):
        """Ask the server to cancel; wait (bounded) for the goal to end."""
        try:
            cancel_future = handle.cancel_goal_async()
        except Exception as e:  # noqa: BLE001 - the server may be gone; we tried
            self._log.warning(f'cannot send a cancel request to {binding.server}: {e!r}')
            return
        waited = [result_future] if result_future is not None else [cancel_future]
        if await self._waits.wait(waited, self._cancel_wait) != DONE:
            self._log.warning(f'{binding.server} did not end the canceled goal within '
                              f'{self._cancel_wait:g} s')


# --- the robot's pose --------------------------------------------------------

POSE_QOS = QoSProfile(
    # As Nav2's AMCL publishes amcl_pose: reliable, transient local (latched), depth 1.
    history=QoSHistoryPolicy.KEEP_LAST, depth=1,
    reliability=QoSReliabilityPolicy.RELIABLE,
    durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def pose_qos(reliability=QoSReliabilityPolicy.RELIABLE,
             durability=QoSDurabilityPolicy.TRANSIENT_LOCAL):
    """Return the pose subscription's QoS (depth 1), AMCL's by default."""
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=1,
                      reliability=reliability, durability=durability)


def subscribe_pose(node, topic, latest, callback_group=None, qos=POSE_QOS,
                   on_incompatible=None):
    """
    Subscribe ``latest`` (an execution.LatestPose) to a PoseWithCovarianceStamped topic.

    ``qos`` matches Nav2's AMCL by default (reliable, transient local: the
    latched pose arrives at start-up); a best-effort or volatile publisher
    needs a best-effort or volatile subscription (the node's ``pose_qos_*``
    parameters). ``on_incompatible(text)`` is called when a publisher with an
    incompatible QoS is found. A pose stamped zero is stored with stamp 0.0
    (the runner refuses it), not as "now".
    """
    def on_pose(msg):
        try:
            stamp = stamp_seconds(msg.header.stamp)
            latest.update(msg_to_pose(msg), 0.0 if stamp is None else stamp)
        except Exception as e:  # noqa: BLE001 - a bad message must not kill the node
            node.get_logger().warning(f'ignoring a pose on {topic}: {e!r}',
                                      throttle_duration_sec=10.0)
    kwargs = {}
    if on_incompatible is not None:
        try:
            from rclpy.event_handler import SubscriptionEventCallbacks
        except ImportError:  # Humble
            from rclpy.qos_event import SubscriptionEventCallbacks

        def incompatible(event):
            on_incompatible(f'a publisher of {topic} has an incompatible QoS '
                            f'(total {event.total_count}, last policy id '
                            f'{event.last_policy_kind})')
        kwargs['event_callbacks'] = SubscriptionEventCallbacks(incompatible_qos=incompatible)
    return node.create_subscription(PoseWithCovarianceStamped, topic, on_pose, qos,
                                    callback_group=callback_group, **kwargs)


def ros_clock_seconds(node):
    """Return a function giving the node's clock in seconds (for execution.LatestPose)."""
    clock = node.get_clock()
    return lambda: clock.now().nanoseconds * 1e-9
