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
Run a validated plan step by step over skill runners.

Plain Python: no rclpy, no asyncio. :meth:`PlanExecutor.execute` is a
coroutine (``async def``) that only ever awaits what the runners return, so
any driver can run it: the rclpy executor (the node runs it as a coroutine
callback; rclpy futures are awaitable there), ``asyncio.run`` in tests, or
:func:`run_sync` when every runner is synchronous.

A runner is a callable ``runner(call: StepCall)`` returning the step's value
(a :class:`Pose` for LOCATION, a ``str`` for STRING, ``None`` for skills that
return nothing), or an awaitable of it; it raises
:class:`~llm_planner.core.errors.PlannerError` to fail the step with an error code.
Runners are chosen by the skill's ``run.kind`` (``config/skills.yaml``):
``map`` and ``pose_topic`` are here; ``action`` is in
:mod:`llm_planner.ros` (action_runner, pose_topic).

Cancellation: a :class:`CancelToken` is checked before every step and passed
to the running runner (``call.cancel``), which must stop its work and raise
``PlannerError(CANCELED)`` when it is set. Once set, no further step starts.
The token's ``reason`` (``CANCELED``, ``PREEMPTED`` or ``SHUTDOWN``) is the result's code.
"""

from dataclasses import dataclass, field
import inspect
import logging
import math
import threading
import time

# KIND_MAP (catalog.py) is one of the run kinds handled here.
from llm_planner.core.catalog import KIND_MAP, LOCATION, STRING  # noqa: F401
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.geometry import Pose  # noqa: F401 - a LOCATION value, also from here
from llm_planner.core.program import is_variable
from llm_planner.core.validator import validate

# Progress states, as in ExecuteTask feedback.
RUNNING = 'running'
SUCCEEDED = 'succeeded'
FAILED = 'failed'
CANCELED = 'canceled'

# Run kinds handled here; `action` is bound by the ROS side.
KIND_POSE_TOPIC = 'pose_topic'
KIND_ACTION = 'action'

DEFAULT_STEP_TIMEOUT = 120.0

_log = logging.getLogger(__name__)


@dataclass
class ExecutionResult:
    """How a plan ended. ``failed_step`` is the 0-based step index, -1 when none."""

    success: bool
    error_code: str = ''
    message: str = ''
    failed_step: int = -1
    steps_done: int = 0
    values: dict = field(default_factory=dict)


class CancelToken:
    """
    A thread-safe cancel flag with a reason and wake-up callbacks.

    ``cancel(reason)`` sets it once (the first reason wins) and calls every
    callback added with :meth:`add_callback`, in the canceling thread; a
    callback added after the fact is called at once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._callbacks = []
        self.reason = ''

    def cancel(self, reason=ErrorCode.CANCELED):
        """Set the token; return False when it was set already."""
        with self._lock:
            if self._event.is_set():
                return False
            self.reason = reason
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # noqa: BLE001 - a callback must not stop the others
                _log.exception('cancel callback failed')
        return True

    def is_set(self):
        """Return True once canceled."""
        return self._event.is_set()

    def wait(self, timeout=None):
        """Block until canceled or ``timeout`` seconds passed; return is_set()."""
        return self._event.wait(timeout)

    def add_callback(self, callback):
        """Call ``callback()`` when canceled (at once if already canceled)."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def remove_callback(self, callback):
        """Forget a callback added with :meth:`add_callback`."""
        with self._lock:
            try:
                self._callbacks.remove(callback)
            except ValueError:
                pass


@dataclass(frozen=True)
class StepCall:
    """What a runner gets: the step, its skill, resolved arguments, cancel and deadline."""

    index: int
    step_count: int
    step: object  # program.Step
    skill: object  # catalog.Skill
    args: dict  # argument name -> value (Pose or str)
    cancel: CancelToken
    timeout: float  # seconds the whole step may take
    # For each argument given a variable: the literal arguments of the call
    # that stored it, e.g. {'where': {'object_name': 'banana'}} for
    # GRAB(where:$banana) after $banana = SEARCH(object_name:"banana").
    sources: dict = field(default_factory=dict)

    @property
    def binding(self):
        """Return the skill's ``run:`` mapping."""
        return self.skill.run

    @property
    def label(self):
        """Return a readable step name, e.g. ``step 2 (GO)``."""
        return f'step {self.index + 1} ({self.step.function})'


class LatestPose:
    """
    The robot's latest pose with its time stamp, shared between threads.

    ``now`` is the clock the stamps are in (the ROS side passes the node's
    clock in seconds); a stamp of None means "now".
    """

    def __init__(self, now=time.monotonic):
        self._now = now
        self._lock = threading.Lock()
        self._pose = None
        self._stamp = None

    def update(self, pose, stamp=None):
        """Store ``pose`` (a :class:`Pose`), stamped ``stamp`` seconds (None: now)."""
        stamp = self._now() if stamp is None else float(stamp)
        with self._lock:
            self._pose = pose
            self._stamp = stamp

    def get(self):
        """Return ``(pose, age_seconds)``, or ``(None, None)`` before the first pose."""
        with self._lock:
            pose, stamp = self._pose, self._stamp
        if pose is None:
            return None, None
        return pose, max(0.0, self._now() - stamp)

    def get_stamped(self):
        """Return ``(pose, stamp, now)``: the stamp as given (0.0: unset), now on its clock."""
        with self._lock:
            pose, stamp = self._pose, self._stamp
        return pose, stamp, self._now()


def _value(setting):
    return setting() if callable(setting) else setting


class MapRunner:
    """``run: {kind: map}``: the pose of a place on the semantic map (the skill's STRING arg)."""

    def __init__(self, semantic_map):
        self._map = semantic_map

    def __call__(self, call):
        names = [a.name for a in call.skill.args if a.type == STRING]
        if len(names) != 1:
            raise PlannerError(ErrorCode.INTERNAL_ERROR,
                               f'{call.label}: a map skill takes exactly one STRING argument')
        name = call.args[names[0]]
        place = self._map.resolve(name)
        if place is None:
            raise PlannerError(ErrorCode.UNKNOWN_LOCATION, self._map.not_on_map(name))
        return place.pose


# A pose stamped up to this far ahead of the node's clock is taken as now
# (clocks of two machines differ a little); further ahead it is refused.
POSE_FUTURE_TOLERANCE = 0.5


class PoseTopicRunner:
    """
    ``run: {kind: pose_topic}``: the robot's latest pose, if it can be trusted.

    POSE_UNAVAILABLE, before anything moves, when there is no pose yet, or its
    values are not finite, or it is in another frame than ``frame`` (a string
    or a callable; '' = any), or its stamp is zero or more than
    POSE_FUTURE_TOLERANCE s in the future, or it is older than ``max_age``
    (seconds, or a callable returning it; <= 0: no limit). Transforming a pose
    into the expected frame is not done.
    """

    def __init__(self, latest, max_age, topic='amcl_pose', frame=''):
        self._latest = latest
        self._max_age = max_age
        self._topic = topic
        self._frame = frame
        self.hint = ''  # appended to "no pose yet" (e.g. an incompatible QoS was seen)

    def _refuse(self, text):
        return PlannerError(ErrorCode.POSE_UNAVAILABLE,
                            f'the robot pose on {_value(self._topic)} {text}')

    def __call__(self, call):
        pose, stamp, now = self._latest.get_stamped()
        if pose is None:
            raise PlannerError(ErrorCode.POSE_UNAVAILABLE,
                               f'no robot pose received on {_value(self._topic)} yet'
                               + (f' ({self.hint})' if self.hint else ''))
        if not all(math.isfinite(v) for v in (pose.x, pose.y, pose.yaw)):
            raise self._refuse(f'is not finite (x {pose.x}, y {pose.y}, yaw {pose.yaw})')
        frame = _value(self._frame)
        if frame and pose.frame != frame:
            raise self._refuse(f'is in frame {pose.frame!r}, not {frame!r} (pose_frame); '
                               f'poses are not transformed')
        if not stamp:
            raise self._refuse('has a zero time stamp (unset)')
        if stamp - now > POSE_FUTURE_TOLERANCE:
            raise self._refuse(f'is stamped {stamp - now:.1f} s in the future')
        age = max(0.0, now - stamp)
        max_age = float(_value(self._max_age))
        if max_age > 0 and age > max_age:
            raise self._refuse(f'is {age:.1f} s old (limit pose_max_age={max_age:g} s)')
        return pose


def check_runnable(catalog, runners):
    """
    Return a list of problems with the catalog's ``run:`` bindings (empty when all is well).

    Every skill needs a binding whose ``kind`` has a runner; ``timeout``, when
    given, must be a positive number.
    """
    problems = []
    for skill in catalog:
        kind = skill.run.get('kind') if skill.run else None
        if not kind:
            problems.append(f'skill {skill.name} has no run: binding')
        elif kind not in runners:
            problems.append(f'skill {skill.name}: no runner for run kind {kind!r} '
                            f'(known: {", ".join(sorted(runners))})')
        timeout = skill.run.get('timeout') if skill.run else None
        if timeout is not None:
            if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                    or not math.isfinite(timeout) or timeout <= 0):
                problems.append(f'skill {skill.name}: run.timeout must be a positive number')
    return problems


class PlanExecutor:
    """
    Drive a plan over runners chosen by each skill's ``run.kind``.

    ``progress(step_index, step_count, step_text, state)`` is called when a
    step starts (``running``) and when it ends (``succeeded``, ``failed``,
    ``canceled``). ``step_timeout`` (seconds, or a callable) is a step's
    deadline when its binding has no ``timeout``; runners enforce it.
    """

    def __init__(self, catalog, runners, progress=None, step_timeout=DEFAULT_STEP_TIMEOUT,
                 logger=None):
        self.catalog = catalog
        self.runners = dict(runners)
        self._progress = progress
        self._step_timeout = step_timeout
        self._log = logger or _log

    def _report(self, index, count, text, state):
        if self._progress is None:
            return
        try:
            self._progress(index, count, text, state)
        except Exception as e:  # noqa: BLE001 - reporting must not stop the robot
            self._log.warning(f'progress callback failed: {e!r}')

    def _timeout(self, skill):
        timeout = skill.run.get('timeout') if skill.run else None
        return float(timeout) if timeout is not None else float(_value(self._step_timeout))

    @staticmethod
    def _cancel_result(cancel, index, steps, done, values, during=False):
        code = cancel.reason or ErrorCode.CANCELED
        what = 'during' if during else 'before'
        word = {ErrorCode.PREEMPTED: 'preempted by a new task',
                ErrorCode.SHUTDOWN: 'stopped: the node is shutting down'}.get(code, 'canceled')
        return ExecutionResult(
            False, code, f'{word} {what} step {index + 1} ({steps[index].text()})',
            index, done, values)

    async def execute(self, steps, cancel=None):
        """Run ``steps`` in order; return an :class:`ExecutionResult`. Never raises."""
        cancel = cancel if cancel is not None else CancelToken()
        values = {}
        count = len(steps)
        try:
            validate(steps, self.catalog, None, max_steps=max(count, 1))
        except PlannerError as e:
            return ExecutionResult(False, e.code, e.message, -1, 0, values)
        # Refuse up front a plan with a skill the robot cannot run: nothing moves.
        for index, step in enumerate(steps):
            skill = self.catalog.get(step.function)
            kind = skill.run.get('kind') if skill.run else None
            if kind not in self.runners:
                return ExecutionResult(
                    False, ErrorCode.UNSUPPORTED_TASK,
                    f'step {index + 1} ({step.function}): the skill has no runner '
                    f'(run kind {kind!r})', index, 0, values)
        done = 0
        origins = {}  # variable -> literal arguments of the call that stored it
        for index, step in enumerate(steps):
            if cancel.is_set():
                return self._cancel_result(cancel, index, steps, done, values)
            skill = self.catalog.get(step.function)
            text = step.text()
            args = {name: values[value] if is_variable(value) else value
                    for name, value in step.args}
            sources = {name: origins.get(value, {})
                       for name, value in step.args if is_variable(value)}
            call = StepCall(index, count, step, skill, args, cancel, self._timeout(skill),
                            sources)
            self._report(index, count, text, RUNNING)
            try:
                result = self.runners[skill.run['kind']](call)
                if inspect.isawaitable(result):
                    result = await result
                _check_returned(skill, result)
            except PlannerError as e:
                if e.code in (ErrorCode.CANCELED, ErrorCode.PREEMPTED, ErrorCode.SHUTDOWN) \
                        and cancel.is_set():
                    self._report(index, count, text, CANCELED)
                    return self._cancel_result(cancel, index, steps, done, values, during=True)
                self._report(index, count, text, FAILED)
                return ExecutionResult(False, e.code, f'{call.label}: {e.message}',
                                       index, done, values)
            except Exception as e:  # noqa: BLE001 - any bug ends the plan, not the node
                self._log.error(f'{call.label} raised {e!r}', exc_info=True)
                self._report(index, count, text, FAILED)
                return ExecutionResult(False, ErrorCode.INTERNAL_ERROR,
                                       f'{call.label}: internal error: {e!r}',
                                       index, done, values)
            if step.store_result:
                values[step.store_result] = result
                origins[step.store_result] = {name: value for name, value in step.args
                                              if not is_variable(value)}
            done += 1
            self._report(index, count, text, SUCCEEDED)
        return ExecutionResult(True, '', f'{count} step(s) done', -1, done, values)


def _check_returned(skill, value):
    if not skill.returns:
        return
    if skill.returns == LOCATION and not isinstance(value, Pose):
        raise PlannerError(ErrorCode.INTERNAL_ERROR,
                           f'the runner returned {type(value).__name__}, not a LOCATION')
    if skill.returns == STRING and not isinstance(value, str):
        raise PlannerError(ErrorCode.INTERNAL_ERROR,
                           f'the runner returned {type(value).__name__}, not a STRING')


def run_sync(coroutine):
    """Run a coroutine whose awaits complete at once (synchronous runners); return its value."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError('run_sync: the coroutine awaited something pending; drive it with an '
                       'event loop or an rclpy executor')
