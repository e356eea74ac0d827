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
``planner_node``: the ``llm_planner`` managed (lifecycle) node.

A thin ROS layer over :mod:`llm_planner.planner` (task -> checked plan) and
:mod:`llm_planner.execution` (plan -> skill runners -> action goals).

Lifecycle. ``configure`` reads the ROS parameters (the planning keys of
:data:`llm_planner.config.FIELDS` plus the node keys of :data:`NODE_FIELDS`),
loads the model, the catalog and the map, checks every skill's ``run:``
binding and makes the action clients and the pose subscription; a missing or
corrupt model (or any bad setting) fails the transition with one error line
and the node stays up, unconfigured. ``activate`` opens the interfaces below;
``deactivate`` cancels the running task. With ``autostart`` (default) the
node configures and activates itself at start.

Interfaces (names relative to the node, ``/llm_planner/...``):

* ``~/plan`` (llm_planner_interfaces/srv/Plan): plans the task; with
  ``dry_run`` false it then starts executing it and answers at once (follow
  it on ``~/status``).
* ``~/execute_task`` (llm_planner_interfaces/action/ExecuteTask): plans and
  executes, with feedback per step (first ``planning`` with step_index -1,
  then ``running`` and ``succeeded``/``failed``/``canceled`` per step); cancel
  stops the running step's goal and sends no further step; the result names
  the failed step (0-based) and why. Goals are rejected while not active.
* ``~/status`` (std_msgs/String): one JSON object per message, ``event`` one of
  ``planned`` {job, source, task, program, step_count},
  ``step`` {job, step_index, step_count, step, state: running|succeeded|failed|canceled},
  ``result`` {job, success, error_code, message, failed_step, steps_done}.
* ``~/change_state`` (lifecycle): a transition not valid in the current state,
  by label or by id, is answered success false with a warning; the node keeps
  serving.
* ``/diagnostics`` (diagnostic_msgs/DiagnosticArray, 1 Hz): lifecycle state,
  model loaded, backend, last and median planning time, counts of plans and
  failures, the running task.

One task runs at a time. A new one (service without dry_run, or action goal)
while one runs: ``busy_policy`` ``preempt`` cancels the running one (its
result is PREEMPTED) and starts the new one once the old one has stopped;
``reject`` refuses the new one with BUSY. The new task is planned before it
preempts: a task that fails to plan leaves the running one alone. Tasks are
numbered on arrival and the newest wins: one whose planning ends after a newer
task has started ends PREEMPTED without running. A dry run never counts as
busy. Tasks waiting for the model are bounded (``max_pending_plans``; past it
BUSY at once) and the services' DDS queues hold ``service_queue_depth``
requests, so a burst is answered, not dropped. Stopping the process (SIGINT,
SIGTERM) cancels the running goal first and ends every task with SHUTDOWN
(an ``~/execute_task`` goal ABORTED with that code) before the node exits.
With ``autostart`` the model loads in a thread of its own: requests meanwhile
get NOT_ACTIVE ("loading the model") at once.

Threading: every callback is in one ReentrantCallbackGroup under a
MultiThreadedExecutor; the service and action callbacks are coroutines. They
never block an executor thread: planning runs in a small pool of planning
threads (the Planner serializes the model) and is awaited, and waiting for
servers, goals and results is awaited too
(:class:`llm_planner.ros_runners.Waits`, every wait with a deadline). So
however many requests queue for the model, goals, cancels and timers go on.
"""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
import ctypes
from dataclasses import dataclass
import gc
import json
import math
import signal
import statistics
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from llm_planner.config import Field, FIELDS, PlannerConfig
from llm_planner.errors import ErrorCode, PlannerError
from llm_planner.execution import (
    CancelToken, check_runnable, ExecutionResult, KIND_ACTION, KIND_MAP, KIND_POSE_TOPIC,
    LatestPose, MapRunner, PlanExecutor, PoseTopicRunner)
from llm_planner.planner import Planner
from llm_planner.ros_runners import (
    ActionRunner, BindingError, CANCEL_WAIT, CANCELED, DONE, pose_qos, ros_clock_seconds,
    subscribe_pose, Waits)
from llm_planner_interfaces.action import ExecuteTask
from llm_planner_interfaces.msg import PlanStep
from llm_planner_interfaces.srv import Plan
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.expand_topic_name import expand_topic_name
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.task import Future
from rclpy.validate_full_topic_name import validate_full_topic_name
from std_msgs.msg import String

NODE_NAME = 'llm_planner'
BUSY_POLICIES = ('preempt', 'reject')
EXECUTOR_THREADS = 4
# Threads running Planner.plan (it serializes the model; the others wait there,
# and check a task's text at once).
PLAN_WORKERS = 4
# Planning gets its own planning_timeout plus this before the node gives up on it.
PLANNING_GRACE = 10.0
# A preempting task waits at most this long for the old one to stop.
PREEMPT_WAIT = CANCEL_WAIT + 2.0
# At exit, how long the executor keeps spinning after the goals ended, so that
# their results reach the action clients.
RESULT_DELIVERY = 0.5
# At exit, how long main() waits for a model load still running (autostart).
AUTOSTART_JOIN = 5.0

# The node's own keys (read at configure, except where noted "live" or "at start").
NODE_FIELDS = (
    Field('autostart', bool, True,
          'Configure and activate at start (no lifecycle manager needed); read at start'),
    Field('busy_policy', str, 'preempt',
          'A new task while one runs: "preempt" (cancel the running one, which ends '
          'PREEMPTED) or "reject" (the new one gets BUSY); live'),
    Field('service_queue_depth', int, 200,
          'DDS history depth (requests held until the node takes them, answers until '
          'delivered) of ~/plan and of the ~/execute_task goal, cancel and result '
          'services, 1-10000; read at start'),
    Field('max_pending_plans', int, 100,
          'Tasks that may wait for the model at once (service and action); one more is '
          'answered BUSY at once, 1-10000; live'),
    Field('pose_topic', str, 'amcl_pose',
          'Robot pose topic (geometry_msgs/PoseWithCovarianceStamped) for the skills '
          'bound to run: {kind: pose_topic}; read at configure'),
    Field('pose_frame', str, 'map',
          "Frame the robot pose must be in (the semantic map's frame); a pose in another "
          'frame gets POSE_UNAVAILABLE ("" = any frame); live'),
    Field('pose_qos_reliability', str, 'reliable',
          'QoS reliability of the pose subscription: "reliable" or "best_effort" (takes '
          'both kinds of publisher); read at configure'),
    Field('pose_qos_durability', str, 'transient_local',
          'QoS durability of the pose subscription: "transient_local" (gets the latched '
          'pose; needs a transient-local publisher, as AMCL) or "volatile" (any '
          'publisher); read at configure'),
    Field('pose_max_age', float, 5.0,
          'Oldest robot pose a pose_topic skill accepts, seconds from its stamp; '
          '0 = no limit, at most 86400; live'),
    Field('server_timeout', float, 5.0,
          'How long a step waits for its action server to be discovered, and for the '
          'answer to its goal request, seconds (0-3600]; live'),
    Field('step_timeout', float, 120.0,
          'Deadline of a step whose run: binding has no timeout, seconds (0-86400]; live'),
)
_PLANNING_NAMES = tuple(f.name for f in FIELDS)
_NODE_NAMES = tuple(f.name for f in NODE_FIELDS)
_PARAM_TYPES = {
    bool: ParameterType.PARAMETER_BOOL,
    int: ParameterType.PARAMETER_INTEGER,
    float: ParameterType.PARAMETER_DOUBLE,
    str: ParameterType.PARAMETER_STRING,
}


POSE_RELIABILITY = {'reliable': QoSReliabilityPolicy.RELIABLE,
                    'best_effort': QoSReliabilityPolicy.BEST_EFFORT}
POSE_DURABILITY = {'transient_local': QoSDurabilityPolicy.TRANSIENT_LOCAL,
                   'volatile': QoSDurabilityPolicy.VOLATILE}
# Upper bounds of the node's numeric keys (lower bounds in check_node_value).
MAX_QUEUE = 10000
MAX_SERVER_TIMEOUT = 3600.0
MAX_STEP_TIMEOUT = 86400.0
MAX_POSE_AGE = 86400.0


def _finite_in(value, low, high, low_open=True):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if not math.isfinite(value) or value > high:
        return False
    return value > low if low_open else value >= low


def _first_line(error):
    """Return the first line of an rcl error without its ', at file.c:N' tail."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text.split(', at /')[0].rstrip(':')


def _topic_problem(value):
    if not isinstance(value, str) or not value.strip():
        return 'empty'
    try:
        validate_full_topic_name(expand_topic_name(value, NODE_NAME, '/'))
    except Exception as e:  # noqa: BLE001 - InvalidTopicNameException, RCLError
        return _first_line(e)
    return ''


def check_node_value(name, value):
    """Return why ``value`` is not acceptable for node key ``name``, or ''."""
    if name == 'busy_policy' and value not in BUSY_POLICIES:
        return f'busy_policy must be one of {", ".join(BUSY_POLICIES)}, got {value!r}'
    if name in ('service_queue_depth', 'max_pending_plans') and not (
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_QUEUE):
        return f'{name} must be an integer from 1 to {MAX_QUEUE}, got {value!r}'
    if name == 'pose_topic':
        problem = _topic_problem(value)
        if problem:
            return f'pose_topic must be a valid topic name, got {value!r}: {problem}'
    if name == 'pose_frame' and (not isinstance(value, str) or value != value.strip()
                                 or any(c.isspace() or ord(c) < 32 for c in value)):
        return f'pose_frame must be a frame id without spaces ("" = any), got {value!r}'
    if name == 'pose_qos_reliability' and value not in POSE_RELIABILITY:
        return (f'pose_qos_reliability must be one of {", ".join(POSE_RELIABILITY)}, '
                f'got {value!r}')
    if name == 'pose_qos_durability' and value not in POSE_DURABILITY:
        return (f'pose_qos_durability must be one of {", ".join(POSE_DURABILITY)}, '
                f'got {value!r}')
    if name == 'pose_max_age' and not _finite_in(value, 0.0, MAX_POSE_AGE, low_open=False):
        return (f'pose_max_age must be from 0 (no limit) to {MAX_POSE_AGE:g} seconds, '
                f'got {value}')
    if name == 'server_timeout' and not _finite_in(value, 0.0, MAX_SERVER_TIMEOUT):
        return f'server_timeout must be in (0, {MAX_SERVER_TIMEOUT:g}] seconds, got {value}'
    if name == 'step_timeout' and not _finite_in(value, 0.0, MAX_STEP_TIMEOUT):
        return f'step_timeout must be in (0, {MAX_STEP_TIMEOUT:g}] seconds, got {value}'
    return ''


def service_qos(depth):
    """Return the QoS of the node's services: reliable, volatile, KEEP_LAST ``depth``."""
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.VOLATILE)


def to_plan_steps(steps, catalog=None):
    """Return PlanStep messages, arguments in the catalog's declared order."""
    out = []
    for step in steps:
        args = list(step.args)
        skill = catalog.get(step.function) if catalog is not None else None
        if skill is not None:
            order = {a.name: i for i, a in enumerate(skill.args)}
            args.sort(key=lambda a: order.get(a[0], len(order)))
        out.append(PlanStep(function=step.function, arg_names=[n for n, _ in args],
                            arg_values=[v for _, v in args], store_result=step.store_result))
    return out


@dataclass
class _Runtime:
    """What configure builds and cleanup tears down."""

    planner: Planner
    runners: dict
    actions: ActionRunner
    latest: LatestPose
    subscription: object
    pose_topic: str


class _Job:
    """One task being executed."""

    def __init__(self, number, task, steps, source, cancel, feedback=None):
        self.number = number
        self.task = task
        self.steps = steps
        self.source = source
        self.cancel = cancel
        self.feedback = feedback  # (step_index, step_count, text, state) -> None
        self.previous = None
        self.done_future = Future()
        self.done_event = threading.Event()
        self.result = None

    @property
    def done(self):
        return self.done_event.is_set()


class PlannerNode(LifecycleNode):
    """The llm_planner lifecycle node (see the module doc)."""

    def __init__(self, **kwargs):
        super().__init__(NODE_NAME, **kwargs)
        self._started = time.monotonic()
        self._group = ReentrantCallbackGroup()
        for f in FIELDS + NODE_FIELDS:
            self.declare_parameter(f.name, f.default, ParameterDescriptor(
                description=f.description, type=_PARAM_TYPES[f.type]))
        self.add_on_set_parameters_callback(self._on_set_parameters)

        self._lock = threading.RLock()
        self._runtime = None
        self._active = False
        self._configure_error = ''
        self._job = None
        self._jobs = 0
        self._last_claimed = 0
        self._goal_tokens = {}
        self._stopping = False
        self._stats = {'plans': 0, 'planning_failures': 0, 'executions': 0,
                       'execution_failures': 0, 'last_planning_time': None}
        self._planning_times = deque(maxlen=200)
        self._pending_plans = 0  # tasks waiting for or in planning
        self._executions = set()  # Futures of ~/execute_task goals not yet ended
        self._loading = False  # the autostart configure is loading the model
        self._transition_lock = threading.Lock()

        self._status_pub = self.create_publisher(String, '~/status', 10)
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._waits = Waits(self, self._group)
        self._plan_pool = ThreadPoolExecutor(max_workers=PLAN_WORKERS,
                                             thread_name_prefix='llm_planner_plan')
        depth = self.param('service_queue_depth')
        reason = check_node_value('service_queue_depth', depth)
        if reason:  # read only here: refuse to start rather than run with a bad queue
            raise ParameterException(reason, ['service_queue_depth'])
        qos = service_qos(depth)
        self._plan_service = self.create_service(
            Plan, '~/plan', self._on_plan, qos_profile=qos, callback_group=self._group)
        self._action_server = ActionServer(
            self, ExecuteTask, '~/execute_task', execute_callback=self._on_execute,
            goal_callback=self._on_goal, cancel_callback=self._on_cancel,
            callback_group=self._group, goal_service_qos_profile=qos,
            result_service_qos_profile=qos, cancel_service_qos_profile=qos)
        self._guard_change_state()
        self._diag_timer = self.create_timer(1.0, self._on_diagnostics,
                                             callback_group=self._group)

    # --- parameters ---------------------------------------------------------

    def param(self, name):
        """Return a parameter's current value."""
        return self.get_parameter(name).value

    def _planning_values(self, changes=None):
        values = {name: self.param(name) for name in _PLANNING_NAMES}
        values.update(changes or {})
        return values

    def _on_set_parameters(self, params):
        try:
            changes = {p.name: p.value for p in params}
            for name, value in changes.items():
                if name in _NODE_NAMES:
                    reason = check_node_value(name, value)
                    if reason:
                        return SetParametersResult(successful=False, reason=reason)
            if any(name in _PLANNING_NAMES for name in changes):
                PlannerConfig.from_dict(self._planning_values(
                    {k: v for k, v in changes.items() if k in _PLANNING_NAMES}))
            return SetParametersResult(successful=True)
        except (ValueError, TypeError) as e:
            return SetParametersResult(successful=False, reason=str(e))
        except Exception as e:  # noqa: BLE001 - a parameter check must answer
            return SetParametersResult(successful=False, reason=f'internal error: {e!r}')

    @property
    def autostart(self):
        """Return the ``autostart`` parameter."""
        return bool(self.param('autostart'))

    # --- lifecycle ----------------------------------------------------------

    def _guard_change_state(self):
        """
        Answer a change_state request that cannot be done with success false.

        rclpy's LifecycleNode serves ``~/change_state`` itself. A transition
        *label* not valid in the current state is answered success false, but
        a transition *id* not valid in it (configure, id 1, sent to an active
        node, as lifecycle managers do at bring-up) raises RCLError out of the
        service callback, which ends the executor's spin and the process.
        rclpy offers no public hook there, so the callback of that service
        (``Service.callback``, a public attribute) is wrapped; the Service
        object is reachable only as the private ``_service_change_state``
        (same name in Humble and Jazzy), hence the guard: where it is missing
        nothing is wrapped. The wrapper also refuses a transition while the
        autostart configure is still loading the model, instead of running
        two transitions at once.
        """
        service = getattr(self, '_service_change_state', None)
        original = getattr(service, 'callback', None)
        if original is None:
            self.get_logger().warning('cannot guard ~/change_state: unknown rclpy layout')
            return

        def change_state(request, response):
            transition = request.transition
            what = (f'transition {transition.label!r}' if transition.label
                    else f'transition id {transition.id}')
            if not self._transition_lock.acquire(blocking=False):
                self.get_logger().warning(
                    f'change_state: {what} refused: another transition is running'
                    + (' (loading the model)' if self._loading else ''))
                response.success = False
                return response
            try:
                state = self.state_label
                return original(request, response)
            except Exception as e:  # noqa: BLE001 - an invalid request must not end the node
                self.get_logger().warning(
                    f'change_state: {what} refused in state {state}: {_first_line(e)}')
                response.success = False
                return response
            finally:
                self._transition_lock.release()
        service.callback = change_state

    @property
    def state_label(self):
        """Return the lifecycle state: unconfigured, inactive, active, finalized, ..."""
        try:
            return self._state_machine.current_state[1]
        except Exception:  # noqa: BLE001 - a private attribute of LifecycleNode
            return 'active' if self._active else 'unknown'

    def on_configure(self, state):
        """Load the planner and build the runners; FAILURE (one log line) on any problem."""
        planner = None
        try:
            for name in _NODE_NAMES:
                reason = check_node_value(name, self.param(name))
                if reason:
                    raise ValueError(reason)
            config = PlannerConfig.from_dict(self._planning_values())
            planner = Planner(config)
            load_time = planner.load()
            if not self.context.ok() or self._stopping:  # SIGINT/SIGTERM while it loaded
                planner.close()
                return TransitionCallbackReturn.FAILURE
            runtime = self._build_runtime(planner)
        except Exception as e:  # noqa: BLE001 - any failure leaves the node unconfigured
            if isinstance(e, PlannerError):
                reason = f'{e.code}: {e.message}'
            elif isinstance(e, (ValueError, BindingError)):  # a parameter or a binding
                reason = f'{ErrorCode.CONFIG_INVALID}: {e}'
            else:
                reason = f'{type(e).__name__}: {e}'
            if planner is not None:
                try:
                    planner.close()
                except Exception:  # noqa: BLE001
                    pass
            self._configure_error = reason
            self.get_logger().error(f'configure failed: {reason}')
            return TransitionCallbackReturn.FAILURE
        with self._lock:
            self._runtime = runtime
            self._configure_error = ''
        info = planner.info()
        if info.get('repack_note'):
            log = self.get_logger().info if info.get('cpu_repack') else \
                self.get_logger().warning
            log(info['repack_note'])
        self.get_logger().info(
            f'configured: backend {config.backend}, model {self._model_name(config)} '
            f'loaded in {load_time:.2f} s; {len(planner.catalog)} skills, '
            f'{len(planner.semantic_map)} places; pose on {runtime.pose_topic}'
            + (f'; {info.get("n_ctx")} ctx' if info.get('n_ctx') else '')
            + (f'; KV state file: {info["kv_cache"]}' if info.get('kv_cache', 'off') != 'off'
               else ''))
        return TransitionCallbackReturn.SUCCESS

    @staticmethod
    def _model_name(config):
        from llm_planner.backends import registry
        return registry.describe(config)

    def _build_runtime(self, planner):
        catalog = planner.catalog
        latest = LatestPose(ros_clock_seconds(self))
        topic = self.param('pose_topic')
        actions = ActionRunner(self, catalog, self._waits,
                               lambda: self.param('server_timeout'), self._group)
        subscription = None
        try:
            pose_runner = PoseTopicRunner(latest, lambda: self.param('pose_max_age'), topic,
                                          frame=lambda: self.param('pose_frame'))
            runners = {
                KIND_MAP: MapRunner(planner.semantic_map),
                KIND_POSE_TOPIC: pose_runner,
                KIND_ACTION: actions,
            }
            problems = check_runnable(catalog, runners)
            if problems:
                raise BindingError('; '.join(problems))
            reliability = self.param('pose_qos_reliability')
            durability = self.param('pose_qos_durability')

            def incompatible(text):
                pose_runner.hint = (f'{text}; the subscription is {reliability}, {durability}: '
                                    f'set pose_qos_reliability / pose_qos_durability to match')
                self.get_logger().warning(pose_runner.hint, throttle_duration_sec=10.0)
            subscription = subscribe_pose(
                self, topic, latest, self._group,
                qos=pose_qos(POSE_RELIABILITY[reliability], POSE_DURABILITY[durability]),
                on_incompatible=incompatible)
        except Exception:
            actions.destroy()
            if subscription is not None:
                self.destroy_subscription(subscription)
            raise
        return _Runtime(planner, runners, actions, latest, subscription, topic)

    def on_activate(self, state):
        """Open the plan service and the action to requests."""
        with self._lock:
            self._active = True
        self.get_logger().info(
            f'active: ready for tasks {time.monotonic() - self._started:.2f} s after start')
        return super().on_activate(state)

    def on_deactivate(self, state):
        """Refuse new requests and cancel the running task."""
        with self._lock:
            self._active = False
        self._stop_job('the node was deactivated')
        self.get_logger().info('inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        """Release the model, the action clients and the pose subscription."""
        self._teardown('the node was cleaned up')
        self.get_logger().info('unconfigured')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state):
        """Stop everything."""
        self._teardown('the node is shutting down')
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state):
        """Tear down after an error in a transition; back to unconfigured."""
        self._teardown('the node had an error')
        return TransitionCallbackReturn.SUCCESS

    def _stop_job(self, why, wait=PREEMPT_WAIT):
        with self._lock:
            job = self._job
        if job is None or job.done:
            return
        self.get_logger().info(f'canceling task {job.number}: {why}')
        job.cancel.cancel(ErrorCode.CANCELED)
        if wait and not job.done_event.wait(wait):
            self.get_logger().warning(f'task {job.number} did not stop within {wait:g} s')

    def _teardown(self, why, wait=PREEMPT_WAIT):
        with self._lock:
            self._active = False
        try:
            self._stop_job(why, wait)
        finally:
            with self._lock:
                runtime, self._runtime = self._runtime, None
            if runtime is not None:
                runtime.actions.destroy()
                if runtime.subscription is not None:
                    self.destroy_subscription(runtime.subscription)
                runtime.planner.close()
                del runtime
                release_memory()

    def shutdown(self, executor=None):
        """
        Stop the running task, then release everything (at process exit).

        Every task ends with SHUTDOWN: the running goal of the robot is
        canceled, goals still planning are dropped, and each ``~/execute_task``
        goal ends ABORTED with error code SHUTDOWN. With ``executor`` (and the
        context still valid) the executor is spun until that is done (at most
        PREEMPT_WAIT s) and a moment more, so the robot's server gets its
        cancel request and each action client gets its result.
        """
        with self._lock:
            self._active = False
            self._stopping = True
            job = self._job
            tokens = list(self._goal_tokens.values())
            executions = list(self._executions)
        try:
            if job is not None and not job.done:
                self.get_logger().info(f'canceling task {job.number}: shutting down')
                job.cancel.cancel(ErrorCode.SHUTDOWN)
            for token in tokens:
                token.cancel(ErrorCode.SHUTDOWN)
            if executor is not None and self.context.ok():
                pending = [f for f in executions + ([job.done_future] if job else [])
                           if not f.done()]
                deadline = time.monotonic() + PREEMPT_WAIT
                while pending and time.monotonic() < deadline:
                    executor.spin_once(timeout_sec=0.05)
                    pending = [f for f in pending if not f.done()]
                if executions:  # let the result responses go out
                    end = time.monotonic() + RESULT_DELIVERY
                    while time.monotonic() < end:
                        executor.spin_once(timeout_sec=0.05)
            self._teardown('the node is shutting down', wait=0)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - best effort at exit
            print(f'planner_node: shutdown: {e!r}', file=sys.stderr)
        self._plan_pool.shutdown(wait=False, cancel_futures=True)
        self._waits.destroy()

    # --- planning -----------------------------------------------------------

    def _not_active(self):
        state = self.state_label
        why = f' (configure failed: {self._configure_error})' if self._configure_error else ''
        if self._loading:
            why = ' (loading the model)'
        return PlannerError(ErrorCode.NOT_ACTIVE, f'the planner node is {state}{why}')

    def _plan(self, task):
        """Plan ``task`` with the configured planner; raise PlannerError."""
        with self._lock:
            runtime = self._runtime
            active = self._active
        if not active or runtime is None:
            raise self._not_active()
        try:
            result = runtime.planner.plan(task)
        except PlannerError as e:
            with self._lock:
                self._stats['planning_failures'] += 1
                if getattr(e, 'planning_time', None) is not None:  # the model ran
                    self._stats['last_planning_time'] = e.planning_time
                    self._planning_times.append(e.planning_time)
            raise
        with self._lock:
            self._stats['plans'] += 1
            self._stats['last_planning_time'] = result.planning_time
            self._planning_times.append(result.planning_time)
        return runtime, result

    async def _plan_async(self, task, cancel=None):
        """
        Plan ``task`` in the planning threads and await it; raise PlannerError.

        No executor thread is held while the model runs, so goals, timers and
        cancels keep flowing however many plan requests are waiting. With
        ``cancel`` set while planning, CANCELED at once (the plan is dropped).
        """
        with self._lock:
            runtime = self._runtime
            active = self._active
        if not active or runtime is None:
            raise self._not_active()
        limit_pending = self.param('max_pending_plans')
        with self._lock:
            if self._pending_plans >= limit_pending:
                raise PlannerError(
                    ErrorCode.BUSY, f'{self._pending_plans} tasks already wait for the model '
                                    f'(max_pending_plans {limit_pending}); try again later')
            self._pending_plans += 1
        try:
            return await self._plan_pending(runtime, task, cancel)
        finally:
            with self._lock:
                self._pending_plans -= 1

    async def _plan_pending(self, runtime, task, cancel):
        done = Future()

        def transfer(cf):
            error = cf.exception()
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(cf.result())
        self._plan_pool.submit(self._plan, task).add_done_callback(transfer)
        limit = runtime.planner.config.planning_timeout + PLANNING_GRACE
        outcome = await self._waits.wait([done], limit, cancel)
        if outcome == DONE:
            return done.result()
        if outcome == CANCELED:
            code = cancel.reason or ErrorCode.CANCELED
            raise PlannerError(code, 'canceled while planning' if code == ErrorCode.CANCELED
                               else f'{code}: stopped while planning')
        raise PlannerError(ErrorCode.TIMEOUT, f'planning did not end within {limit:g} s')

    def _busy(self):
        with self._lock:
            return self._job is not None and not self._job.done

    def _check_busy(self):
        if self.param('busy_policy') == 'reject' and self._busy():
            with self._lock:
                job = self._job
            raise PlannerError(ErrorCode.BUSY, f'busy with task {job.number} ({job.task!r}); '
                                               f'busy_policy is reject')

    # --- execution ----------------------------------------------------------

    def _claim(self, job):
        """
        Make ``job`` the current task: preempt or refuse the running one.

        Tasks are numbered when they arrive, before planning; under preempt,
        a task whose planning ended after a newer task was claimed is itself
        superseded (PREEMPTED), so the newest request wins whatever the
        planning order.
        """
        with self._lock:
            if not self._active:
                raise self._not_active()
            current = self._job
            running = current is not None and not current.done
            if running and self.param('busy_policy') == 'reject':
                raise PlannerError(
                    ErrorCode.BUSY, f'busy with task {current.number} ({current.task!r}); '
                                    f'busy_policy is reject')
            if job.number < self._last_claimed and self.param('busy_policy') == 'preempt':
                raise PlannerError(
                    ErrorCode.PREEMPTED, f'task {self._last_claimed} arrived later and was '
                                         f'started first')
            if running:
                self.get_logger().info(f'task {job.number} preempts task {current.number}')
                current.cancel.cancel(ErrorCode.PREEMPTED)
                job.previous = current
            self._job = job
            self._last_claimed = job.number

    def _arrive(self):
        """Return the arrival number of a new task (service without dry run, or goal)."""
        with self._lock:
            self._jobs += 1
            return self._jobs

    async def _run_job(self, job, runtime, program):
        """Execute a claimed job to the end; never raises."""
        result = None
        try:
            self._publish({'event': 'planned', 'job': job.number, 'source': job.source,
                           'task': job.task, 'program': program,
                           'step_count': len(job.steps)})
            previous = job.previous
            if previous is not None and not previous.done:
                if await self._waits.wait([previous.done_future], PREEMPT_WAIT) != DONE:
                    self.get_logger().warning(
                        f'task {previous.number} did not stop within {PREEMPT_WAIT:g} s; '
                        f'task {job.number} starts anyway (it sends no further step)')
            job.previous = None  # do not keep a chain of old jobs alive

            def progress(index, count, text, state):
                self._publish({'event': 'step', 'job': job.number, 'step_index': index,
                               'step_count': count, 'step': text, 'state': state})
                if job.feedback is not None:
                    job.feedback(index, count, text, state)
            executor = PlanExecutor(runtime.planner.catalog, runtime.runners,
                                    progress=progress,
                                    step_timeout=lambda: self.param('step_timeout'),
                                    logger=self.get_logger())
            result = await executor.execute(job.steps, job.cancel)
        except Exception as e:  # noqa: BLE001 - a bug ends the task, not the node
            self.get_logger().error(f'task {job.number}: internal error: {e!r}')
            result = ExecutionResult(False, ErrorCode.INTERNAL_ERROR, f'internal error: {e!r}')
        finally:
            if result is None:
                result = ExecutionResult(False, ErrorCode.INTERNAL_ERROR, 'execution stopped')
            self._finish(job, result)
        return result

    def _finish(self, job, result):
        job.result = result
        try:
            with self._lock:
                self._stats['executions'] += 1
                if not result.success:
                    self._stats['execution_failures'] += 1
                if self._job is job:
                    self._job = None
            if result.success:
                self.get_logger().info(f'task {job.number} succeeded: {result.message}')
            else:
                self.get_logger().warning(
                    f'task {job.number} failed: {result.error_code}: {result.message}')
            self._publish({'event': 'result', 'job': job.number, 'success': result.success,
                           'error_code': result.error_code, 'message': result.message,
                           'failed_step': result.failed_step, 'steps_done': result.steps_done})
        finally:
            job.done_event.set()
            job.done_future.set_result(result)

    def _publish(self, obj):
        try:
            self._status_pub.publish(String(data=json.dumps(obj, ensure_ascii=False)))
        except Exception as e:  # noqa: BLE001 - status is informative
            self.get_logger().warning(f'cannot publish status: {e!r}',
                                      throttle_duration_sec=10.0)

    # --- ~/plan ---------------------------------------------------------------

    async def _on_plan(self, request, response):
        try:
            response.success = False
            runtime = None
            if not self._active:
                raise self._not_active()
            number = 0
            if not request.dry_run:
                self._check_busy()
                number = self._arrive()
            runtime, result = await self._plan_async(request.task)
            response.steps = to_plan_steps(result.steps, runtime.planner.catalog)
            response.program = result.program
            response.planning_time = float(result.planning_time)
            if request.dry_run:
                response.success = True
                response.message = f'planned {len(result.steps)} step(s) (dry run)'
                return response
            job = _Job(number, request.task, result.steps, 'service', CancelToken())
            self._claim(job)
            try:
                self.executor.create_task(self._run_job(job, runtime, result.program))
            except Exception as e:
                self._finish(job, ExecutionResult(False, ErrorCode.INTERNAL_ERROR,
                                                  f'cannot start the task: {e!r}'))
                raise
            response.success = True
            response.message = (f'planned {len(result.steps)} step(s); executing as task '
                                f'{job.number} (progress on {self._status_pub.topic_name})')
        except PlannerError as e:
            response.success = False
            response.error_code = e.code
            response.message = e.message
            if getattr(e, 'planning_time', None) is not None:
                response.planning_time = float(e.planning_time)
        except Exception as e:  # noqa: BLE001 - the caller always gets an answer
            self.get_logger().error(f'~/plan: internal error: {e!r}')
            response.success = False
            response.error_code = ErrorCode.INTERNAL_ERROR
            response.message = f'internal error: {e!r}'
        return response

    # --- ~/execute_task ---------------------------------------------------------

    def _on_goal(self, goal_request):
        try:
            if not self._active:
                self.get_logger().info(f'rejected a goal: {self._not_active().message}')
                return GoalResponse.REJECT
            return GoalResponse.ACCEPT
        except Exception as e:  # noqa: BLE001
            self.get_logger().error(f'~/execute_task goal callback: {e!r}')
            return GoalResponse.REJECT

    def _on_cancel(self, goal_handle):
        try:
            with self._lock:
                token = self._goal_tokens.get(bytes(goal_handle.goal_id.uuid))
            if token is not None:
                token.cancel(ErrorCode.CANCELED)
        except Exception as e:  # noqa: BLE001
            self.get_logger().error(f'~/execute_task cancel callback: {e!r}')
        return CancelResponse.ACCEPT

    async def _on_execute(self, goal_handle):
        key = bytes(goal_handle.goal_id.uuid)
        token = CancelToken()
        ended = Future()  # done once the goal's final state is set (see shutdown)
        with self._lock:
            self._goal_tokens[key] = token
            self._executions.add(ended)
            stopping = not self._active and self._stopping
        if stopping:
            token.cancel(ErrorCode.SHUTDOWN)
        if goal_handle.is_cancel_requested:
            token.cancel(ErrorCode.CANCELED)
        out = ExecuteTask.Result(success=False, failed_step=-1)
        try:
            await self._execute_goal(goal_handle, token, out)
        except Exception as e:  # noqa: BLE001 - the caller always gets a result
            self.get_logger().error(f'~/execute_task: internal error: {e!r}')
            out.success = False
            out.error_code = ErrorCode.INTERNAL_ERROR
            out.message = f'internal error: {e!r}'
        finally:
            with self._lock:
                self._goal_tokens.pop(key, None)
        try:
            if out.success:
                goal_handle.succeed()
            elif out.error_code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
                goal_handle.canceled()
            else:
                goal_handle.abort()
        except Exception as e:  # noqa: BLE001 - e.g. the goal is already terminal
            self.get_logger().warning(f'~/execute_task: cannot set the goal state: {e!r}')
        with self._lock:
            self._executions.discard(ended)
        ended.set_result(out)
        return out

    async def _execute_goal(self, goal_handle, token, out):
        task = goal_handle.request.task

        def feedback(index, count, text, state):
            goal_handle.publish_feedback(ExecuteTask.Feedback(
                step_index=index, step_count=count, step=text, state=state))
        try:
            feedback(-1, 0, '', 'planning')
            if not self._active:
                raise self._not_active()
            self._check_busy()
            number = self._arrive()
            runtime, result = await self._plan_async(task, token)
        except PlannerError as e:
            out.error_code, out.message = e.code, e.message
            return
        out.steps = to_plan_steps(result.steps, runtime.planner.catalog)
        if token.is_set():  # canceled while planning: do not preempt anything
            out.error_code = token.reason or ErrorCode.CANCELED
            out.message = ('canceled before execution' if out.error_code == ErrorCode.CANCELED
                           else 'the node is shutting down; nothing was executed')
            return
        job = _Job(number, task, result.steps, 'action', token, feedback)
        try:
            self._claim(job)
        except PlannerError as e:
            out.error_code, out.message = e.code, e.message
            return
        executed = await self._run_job(job, runtime, result.program)
        out.success = executed.success
        out.error_code = executed.error_code
        out.message = executed.message
        out.failed_step = executed.failed_step

    # --- /diagnostics ---------------------------------------------------------

    def _on_diagnostics(self):
        try:
            self._diag_pub.publish(self.diagnostics())
        except Exception as e:  # noqa: BLE001 - never let a timer die
            self.get_logger().warning(f'diagnostics: {e!r}', throttle_duration_sec=30.0)

    def diagnostics(self):
        """Return the node's DiagnosticArray."""
        with self._lock:
            runtime = self._runtime
            stats = dict(self._stats)
            times = list(self._planning_times)
            job = self._job
            active = self._active
        state = self.state_label
        status = DiagnosticStatus(name=f'{self.get_name()}: planner',
                                  hardware_id=self.get_fully_qualified_name())
        if runtime is None:
            status.level = DiagnosticStatus.ERROR if self._configure_error else \
                DiagnosticStatus.WARN
            status.message = (f'{state}: {self._configure_error}' if self._configure_error
                              else f'{state}: no model loaded')
        elif not active:
            status.level = DiagnosticStatus.WARN
            status.message = f'{state}: model loaded, not accepting tasks'
        else:
            status.level = DiagnosticStatus.OK
            status.message = f'active: executing task {job.number}' if job and not job.done \
                else 'active: idle'
        backend = self.param('backend')
        model = ''
        if runtime is not None:
            model = self._model_name(runtime.planner.config)
        values = {
            'lifecycle_state': state,
            'model_loaded': str(runtime is not None and runtime.planner.loaded).lower(),
            'backend': backend,
            'model': model,
            'last_planning_time': _seconds(stats['last_planning_time']),
            'median_planning_time': _seconds(statistics.median(times) if times else None),
            'plans': str(stats['plans']),
            'planning_failures': str(stats['planning_failures']),
            'executions': str(stats['executions']),
            'execution_failures': str(stats['execution_failures']),
            'busy': str(job is not None and not job.done).lower(),
            'current_task': job.task if job is not None and not job.done else '',
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        return msg

    def configure_and_activate(self):
        """Autostart: configure, then activate when configure succeeded."""
        with self._transition_lock:
            self._loading = True
            try:
                configured = self.trigger_configure() == TransitionCallbackReturn.SUCCESS
            finally:
                self._loading = False
            if configured and not self._stopping:
                self.trigger_activate()

    def start_autostart(self):
        """
        Configure and activate in a thread of its own; return the thread.

        The model loads while the executor spins, so requests meanwhile get
        NOT_ACTIVE (loading the model) at once instead of waiting for the load.
        """
        def run():
            try:
                self.configure_and_activate()
            except Exception as e:  # noqa: BLE001 - e.g. the context ended during the load
                if self.context.ok():
                    self.get_logger().error(f'autostart failed: {e!r}')
        thread = threading.Thread(target=run, name='llm_planner_autostart', daemon=True)
        self._loading = True  # before the executor spins: no window showing 'unconfigured'
        thread.start()
        return thread


def release_memory():
    """
    Return freed memory to the system after the model was closed.

    A closed model's buffers go back to glibc's heap, which keeps them: each
    configure then grew the process (measured with the tiny model: 86 -> 190
    MiB over 6 load/close cycles; with malloc_trim 61 -> 68 MiB).
    """
    gc.collect()
    try:
        libc = ctypes.CDLL(None)
        trim = getattr(libc, 'malloc_trim', None)  # glibc only
        if trim is not None:
            trim(0)
    except OSError:
        pass


def _seconds(value):
    return '' if value is None else f'{value:.3f}'


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _init(args):
    """rclpy.init, keeping SIGINT/SIGTERM for main() (to cancel the running goal first)."""
    try:
        from rclpy.signals import SignalHandlerOptions
    except ImportError:  # an rclpy without the option: its handlers shut the context down
        rclpy.init(args=args)
        return
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def main(args=None):
    """Run planner_node until SIGINT/SIGTERM or an external shutdown."""
    _init(args)
    node = None
    executor = None
    autostart = None
    status = 0
    try:
        node = PlannerNode()
        executor = MultiThreadedExecutor(num_threads=EXECUTOR_THREADS)
        executor.add_node(node)
        if node.autostart:
            autostart = node.start_autostart()
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ParameterException as e:
        # A parameter of the wrong type (e.g. n_ctx:=4096.0): say which, exit 2.
        print(f'planner_node: {e}', file=sys.stderr)
        status = 2
    except Exception:
        if rclpy.ok():
            raise
        # The context was shut down under the executor: a normal exit.
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: let cleanup finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if node is not None:
            node.shutdown(executor)
        if autostart is not None:
            # A load cannot be interrupted; on_configure drops it when it ends.
            autostart.join(timeout=AUTOSTART_JOIN)
        if executor is not None:
            executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
