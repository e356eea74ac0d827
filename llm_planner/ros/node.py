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
``PlannerNode``: the ``llm_planner`` managed (lifecycle) node.

A thin ROS layer over :mod:`llm_planner.planning.planner` and
:mod:`llm_planner.execution`; its parts are its siblings in ``ros/``
(parameters, arbiter, tasks, runtime, diagnostics, lifecycle);
``planner_node.py`` runs it.

Lifecycle. ``configure`` reads the ROS parameters, loads the model, the
catalog and the map, checks every skill's ``run:`` binding and makes the
action clients and the pose subscription; a missing or corrupt model (or any
bad setting) fails the transition with one error line and the node stays up,
unconfigured. ``activate`` opens the plan service and the action to
requests; ``deactivate`` cancels the running task. With ``autostart``
(default) the node configures and activates itself at start, the model
loading in a thread of its own: requests meanwhile get NOT_ACTIVE ("loading
the model") at once. Interfaces and events: docs/architecture.md.
"""

import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticArray
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.planning.config import PlannerConfig
from llm_planner.planning.planner import Planner
from llm_planner.ros import parameters, replies
from llm_planner.ros.arbiter import JobArbiter
from llm_planner.ros.bindings import BindingError
from llm_planner.ros.diagnostics import diagnostic_array, PlanningStats
from llm_planner.ros.lifecycle import guard_change_state, LifecycleState
from llm_planner.ros.runtime import (build_runtime, close_runtime, log_configured, model_name,
                                     release_memory)
from llm_planner.ros.tasks import PREEMPT_WAIT, TaskServer
from llm_planner.ros.waits import Waits
from llm_planner_interfaces.action import ExecuteTask
from llm_planner_interfaces.srv import Plan
from rclpy.action import ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.exceptions import ParameterException
from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

# At exit, how long the executor keeps spinning after the goals ended, so that
# their results reach the action clients.
RESULT_DELIVERY = 0.5
SUCCESS, FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE


class PlannerNode(LifecycleNode):
    """The llm_planner lifecycle node (see the module doc)."""

    def __init__(self, **kwargs):
        super().__init__(parameters.NODE_NAME, **kwargs)
        self._started = time.monotonic()
        self._group = ReentrantCallbackGroup()
        parameters.declare_parameters(self)
        self.add_on_set_parameters_callback(
            lambda params: parameters.on_set_parameters(params, self.param))
        self._lifecycle = LifecycleState()
        self._runtime = None
        self._configure_error = ''
        self._loading = False  # the autostart configure is loading the model
        self._transition_lock = threading.Lock()
        self._arbiter = JobArbiter(self.not_active, lambda: self.param('busy_policy'),
                                   lambda: self.param('max_pending_plans'))
        self._stats = PlanningStats()
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._waits = Waits(self, self._group)
        self._tasks = TaskServer(self, self._arbiter, self._stats, self._waits)
        depth = self.param('service_queue_depth')
        reason = parameters.check_node_value('service_queue_depth', depth)
        if reason:  # read only here: refuse to start rather than run with a bad queue
            raise ParameterException(reason, ['service_queue_depth'])
        qos = parameters.service_qos(depth)
        self._plan_service = self.create_service(
            Plan, '~/plan', self._tasks.on_plan, qos_profile=qos, callback_group=self._group)
        self._action_server = ActionServer(
            self, ExecuteTask, '~/execute_task', execute_callback=self._tasks.on_execute,
            goal_callback=self._tasks.on_goal, cancel_callback=self._tasks.on_cancel,
            callback_group=self._group, goal_service_qos_profile=qos,
            result_service_qos_profile=qos, cancel_service_qos_profile=qos)
        guard_change_state(self, self._transition_lock, lambda: self._loading)
        replies.gate_replies(self, self._waits, list(self.services))  # after the guard
        self._diag_timer = self.create_timer(1.0, self._on_diagnostics,
                                             callback_group=self._group)

    def param(self, name):
        """Return a parameter's current value."""
        return self.get_parameter(name).value

    @property
    def autostart(self):
        """Return the ``autostart`` parameter."""
        return bool(self.param('autostart'))

    @property
    def loading(self):
        """Return True while the autostart configure loads the model."""
        return self._loading

    @loading.setter
    def loading(self, value):
        self._loading = bool(value)

    @property
    def runtime(self):
        """Return what configure built (planner, runners), or None."""
        with self._arbiter.lock:
            return self._runtime

    @property
    def state_label(self):
        """Return the lifecycle state: unconfigured, inactive, active, finalized, ..."""
        return self._lifecycle.label

    def not_active(self):
        """Return the NOT_ACTIVE error a request gets now, with the reason."""
        why = f' (configure failed: {self._configure_error})' if self._configure_error else ''
        if self._loading:
            why = ' (loading the model)'
        return PlannerError(ErrorCode.NOT_ACTIVE,
                            f'the planner node is {self.state_label}{why}')

    def configure_and_activate(self):
        """Autostart: configure, then activate when configure succeeded."""
        with self._transition_lock:
            self._loading = True
            try:
                configured = self.trigger_configure() == SUCCESS
            finally:
                self._loading = False
            if configured and not self._arbiter.stopping:
                self.trigger_activate()

    # --- lifecycle ----------------------------------------------------------

    def on_configure(self, state):
        """Load the planner and build the runners; FAILURE (one log line) on any problem."""
        self._lifecycle.begin('configure')
        planner = None
        try:
            parameters.check_node_values(self.param)
            config = PlannerConfig.from_dict(parameters.planning_values(self.param))
            planner = Planner(config)
            load_time = planner.load()
            if not self.context.ok() or self._arbiter.stopping:  # SIGINT/SIGTERM meanwhile
                planner.close()
                self._lifecycle.end('configure', success=False)
                return FAILURE
            runtime = build_runtime(self, planner, self._waits, self._group)
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
            self._lifecycle.end('configure', success=False)
            self.get_logger().error(f'configure failed: {reason}')
            return FAILURE
        with self._arbiter.lock:
            self._runtime = runtime
            self._configure_error = ''
        log_configured(self.get_logger(), planner, config, load_time, runtime)
        self._lifecycle.end('configure')
        return SUCCESS

    def on_activate(self, state):
        """Open the plan service and the action to requests."""
        self._lifecycle.begin('activate')
        self._arbiter.active = True
        self._lifecycle.end('activate')
        self.get_logger().info(
            f'active: ready for tasks {time.monotonic() - self._started:.2f} s after start')
        return super().on_activate(state)

    def on_deactivate(self, state):
        """Refuse new requests and cancel the running task."""
        self._lifecycle.begin('deactivate')
        self._arbiter.active = False
        self._stop_job('the node was deactivated')
        self._lifecycle.end('deactivate')
        self.get_logger().info('inactive')
        return super().on_deactivate(state)

    def on_cleanup(self, state):
        """Release the model, the action clients and the pose subscription."""
        return self._teardown_transition('cleanup', 'the node was cleaned up', 'unconfigured')

    def on_shutdown(self, state):
        """Stop everything."""
        return self._teardown_transition('shutdown', 'the node is shutting down')

    def on_error(self, state):
        """Tear down after an error in a transition; back to unconfigured."""
        return self._teardown_transition('error', 'the node had an error')

    def _teardown_transition(self, transition, why, log=''):
        self._lifecycle.begin(transition)
        self._teardown(why)
        self._lifecycle.end(transition)
        if log:
            self.get_logger().info(log)
        return SUCCESS

    def _stop_job(self, why, wait=PREEMPT_WAIT):
        job = self._arbiter.running()
        if job is None:
            return
        self.get_logger().info(f'canceling task {job.number}: {why}')
        job.cancel.cancel(ErrorCode.CANCELED)
        if wait and not job.done_event.wait(wait):
            self.get_logger().warning(f'task {job.number} did not stop within {wait:g} s')

    def _teardown(self, why, wait=PREEMPT_WAIT):
        self._arbiter.active = False
        try:
            self._stop_job(why, wait)
        finally:
            with self._arbiter.lock:
                runtime, self._runtime = self._runtime, None
            if runtime is not None:
                close_runtime(self, runtime)
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
        try:
            job = self._arbiter.stop_all(ErrorCode.SHUTDOWN)
            if job is not None:
                self.get_logger().info(f'canceling task {job.number}: shutting down')
            with self._arbiter.lock:
                executions = list(self._tasks.executions)
            if executor is not None and self.context.ok():
                pending = [f for f in executions + ([job.future] if job else [])
                           if not f.done()]
                _spin_while(executor, lambda: any(not f.done() for f in pending),
                            PREEMPT_WAIT)
                if executions:  # let the result responses go out
                    _spin_while(executor, lambda: True, RESULT_DELIVERY)
            self._teardown('the node is shutting down', wait=0)
        except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - best effort at exit
            print(f'planner_node: shutdown: {e!r}', file=sys.stderr)
        self._tasks.destroy()
        self._waits.destroy()

    # --- /diagnostics ---------------------------------------------------------

    def _on_diagnostics(self):
        try:
            self._diag_pub.publish(self.diagnostics())
        except Exception as e:  # noqa: BLE001 - never let a timer die
            self.get_logger().warning(f'diagnostics: {e!r}', throttle_duration_sec=30.0)

    def diagnostics(self):
        """Return the node's DiagnosticArray."""
        runtime = self.runtime
        return diagnostic_array(
            self.get_name(), self.get_fully_qualified_name(), self.state_label,
            self.get_clock().now().to_msg(), self._stats.snapshot(), runtime,
            self._arbiter.active, self._arbiter.job, self._configure_error,
            self.param('backend'),
            model_name(runtime.planner.config) if runtime is not None else '')


def _spin_while(executor, condition, seconds):
    deadline = time.monotonic() + seconds
    while condition() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
