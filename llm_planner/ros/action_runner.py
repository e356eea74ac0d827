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
Action steps: one goal per plan step, on one action client per server.

Everything here runs inside coroutine callbacks of a MultiThreadedExecutor
(the node's ``ReentrantCallbackGroup``) and never blocks a thread on a
future: it awaits (:class:`llm_planner.ros.waits.Waits`).

One ``rclpy.action.ActionClient`` per ``(type, server)`` of the catalog's
``run:`` bindings; the action type is imported from the catalog's
``pkg/action/Name`` string only:

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

import threading
import time

from action_msgs.msg import GoalStatus
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.ros.bindings import action_bindings
from llm_planner.ros.waits import CANCELED, DONE, TIMEOUT
from rclpy.action import ActionClient

# How long a caller's cancel or a timeout waits for the server to end the goal.
CANCEL_WAIT = 5.0
# How often a running goal checks that its server is still on the graph, and
# how long the server may be missing before the step fails.
LIVENESS_PERIOD = 0.5
LIVENESS_GRACE = 1.0

_STATUS_NAMES = {
    GoalStatus.STATUS_UNKNOWN: 'UNKNOWN', GoalStatus.STATUS_ACCEPTED: 'ACCEPTED',
    GoalStatus.STATUS_EXECUTING: 'EXECUTING', GoalStatus.STATUS_CANCELING: 'CANCELING',
    GoalStatus.STATUS_SUCCEEDED: 'SUCCEEDED', GoalStatus.STATUS_CANCELED: 'CANCELED',
    GoalStatus.STATUS_ABORTED: 'ABORTED',
}


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

    def _timeout_of_server(self):
        return float(self._server_timeout() if callable(self._server_timeout)
                     else self._server_timeout)

    async def __call__(self, call):
        binding = self.bindings.get(call.skill.name)
        if binding is None:
            raise PlannerError(ErrorCode.INTERNAL_ERROR,
                               f'{call.skill.name} has no action binding')
        client = self._clients[(binding.type_name, binding.server)]
        deadline = time.monotonic() + call.timeout

        def remaining():
            return deadline - time.monotonic()
        await self._discover(client, call, binding, remaining)
        handle = await self._send(client, call, binding, remaining)
        response = await self._await_result(client, handle, call, binding, remaining)
        return self._outcome(response, call, binding)

    async def _discover(self, client, call, binding, remaining):
        """Wait for the server to be on the graph."""
        if client.server_is_ready():
            return
        server_timeout = self._timeout_of_server()
        outcome = await self._waits.until(client.server_is_ready,
                                          min(server_timeout, remaining()), call.cancel)
        if outcome == CANCELED:
            raise PlannerError(ErrorCode.CANCELED, 'canceled before the goal was sent')
        if outcome == TIMEOUT:
            if remaining() <= 0:
                raise self._fail(ErrorCode.TIMEOUT, call, binding,
                                 f'server not available within the step timeout '
                                 f'{call.timeout:g} s')
            raise self._fail(ErrorCode.SERVER_UNAVAILABLE, call, binding,
                             f'action server not available after {server_timeout:g} s')

    async def _send(self, client, call, binding, remaining):
        """
        Send the goal; return its accepted handle.

        A live server answers at once (accepted or not): no answer within
        server_timeout means it is gone, even if the graph still lists it (a
        dead process stays listed until its DDS lease ends).
        """
        server_timeout = self._timeout_of_server()
        goal = binding.make_goal(call.args, self._node.get_clock().now().to_msg(),
                                 getattr(call, 'sources', None))
        send_future = client.send_goal_async(goal, feedback_callback=self._feedback_for(call))
        outcome = await self._waits.wait([send_future], min(server_timeout, remaining()),
                                         call.cancel)
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
        return handle

    async def _await_result(self, client, handle, call, binding, remaining):
        """Wait for the result, watching the deadline, the cancel and the server."""
        result_future = handle.get_result_async()
        missing_since = None
        while True:
            outcome = await self._waits.wait(
                [result_future], min(LIVENESS_PERIOD, max(0.0, remaining())), call.cancel)
            if outcome == DONE:
                return result_future.result()
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

    def _outcome(self, response, call, binding):
        """Return the step's value from the final status and the binding's success test."""
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
            if call.cancel.is_set():
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
