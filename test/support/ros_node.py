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
An in-process rclpy test node: its own context, a MultiThreadedExecutor in a thread.

Entities: ``action_client``, ``service_client``, ``subscribe`` (returns a
:class:`MessageLog`). Waits, each with a timeout: ``wait_for_action_server``,
``wait_for_service``, ``wait_for_publisher`` (return a bool),
``wait_for(predicate)``, ``wait_future`` (fails the test on timeout). Calls:
``send_goal``, ``get_result`` -> ``(status, result)``, ``run_goal`` ->
:class:`GoalRun` and ``call_service``.
"""

import threading
import time
import uuid

import pytest

# How long one probe waits for its answer before it is sent again.
PROBE_PERIOD = 0.5


class MessageLog:
    """Messages received on one subscription, thread-safe."""

    def __init__(self):
        self._condition = threading.Condition()
        self._messages = []

    def __call__(self, msg):
        with self._condition:
            self._messages.append(msg)
            self._condition.notify_all()

    @property
    def messages(self):
        with self._condition:
            return list(self._messages)

    @property
    def last(self):
        with self._condition:
            return self._messages[-1] if self._messages else None

    def clear(self):
        with self._condition:
            self._messages.clear()

    def wait_for(self, count=1, timeout=5.0, predicate=None):
        """Wait until ``count`` messages (matching ``predicate``) arrived; return them or None."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                matching = [m for m in self._messages if predicate is None or predicate(m)]
                if len(matching) >= count:
                    return matching
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._condition.wait(left)


class GoalRun:
    """What ``RosTestNode.run_goal`` saw: acceptance, feedback, final status and result."""

    def __init__(self):
        self.accepted = False
        self.goal_handle = None
        self.feedback = []
        self.status = None
        self.result = None

    @property
    def status_name(self):
        from action_msgs.msg import GoalStatus
        names = {
            GoalStatus.STATUS_UNKNOWN: 'UNKNOWN', GoalStatus.STATUS_ACCEPTED: 'ACCEPTED',
            GoalStatus.STATUS_EXECUTING: 'EXECUTING', GoalStatus.STATUS_CANCELING: 'CANCELING',
            GoalStatus.STATUS_SUCCEEDED: 'SUCCEEDED', GoalStatus.STATUS_CANCELED: 'CANCELED',
            GoalStatus.STATUS_ABORTED: 'ABORTED'}
        return names.get(self.status, str(self.status))


class RosTestNode:
    """An rclpy node with its own context, spun by a MultiThreadedExecutor in a thread."""

    def __init__(self, name='test_client', num_threads=4):
        import rclpy
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import MultiThreadedExecutor

        self._rclpy = rclpy
        self.context = rclpy.Context()
        try:
            from rclpy.signals import SignalHandlerOptions
            # Leave Ctrl-C to pytest.
            rclpy.init(args=[], context=self.context,
                       signal_handler_options=SignalHandlerOptions.NO)
        except ImportError:
            rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.callback_group = ReentrantCallbackGroup()
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        self.executor.add_node(self.node)
        self._entities = []
        self._thread = threading.Thread(target=self._spin, name=f'{name}_spin', daemon=True)
        self._thread.start()

    def _spin(self):
        from rclpy.executors import ExternalShutdownException
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def close(self):
        """Stop spinning, destroy everything, shut the context down."""
        self.executor.shutdown(timeout_sec=5.0)
        self._thread.join(timeout=5.0)
        # MultiThreadedExecutor keeps its worker pool: let callbacks already
        # handed to it finish before their entities are destroyed under them.
        pool = getattr(self.executor, '_executor', None)
        if pool is not None:
            pool.shutdown(wait=True)
        for entity in reversed(self._entities):
            try:
                entity.destroy()
            except Exception:  # already gone
                pass
        self.node.destroy_node()
        self._rclpy.try_shutdown(context=self.context)

    # Entities ---------------------------------------------------------------

    def action_client(self, action_type, name):
        """Create an ActionClient on the node (destroyed at close)."""
        from rclpy.action import ActionClient
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        # Own mutually exclusive group: feedback callbacks run in order.
        client = ActionClient(
            self.node, action_type, name, callback_group=MutuallyExclusiveCallbackGroup())
        self._entities.append(client)
        return client

    def service_client(self, srv_type, name):
        """Create a service client on the node (destroyed at close)."""
        client = self.node.create_client(srv_type, name, callback_group=self.callback_group)
        self._entities.append(client)
        return client

    def subscribe(self, msg_type, topic, qos=10):
        """Subscribe to ``topic``; return a ``MessageLog`` collecting the messages."""
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        log = MessageLog()
        # Own mutually exclusive group: messages are logged in arrival order.
        subscription = self.node.create_subscription(
            msg_type, topic, log, qos, callback_group=MutuallyExclusiveCallbackGroup())
        log.subscription = subscription
        self._entities.append(subscription)
        return log

    # Waiting ----------------------------------------------------------------

    @staticmethod
    def wait_for(predicate, timeout=5.0, interval=0.02):
        """Poll ``predicate()`` until it is true; return whether it became true in time."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def wait_for_action_server(self, client, timeout=10.0):
        """
        Return whether the action server of ``client`` is seen and answers within ``timeout``.

        Discovery is not symmetric: this node may see the server before the
        server has matched this client's response readers, and a goal sent in
        between gets no response. So once the server is seen, it is asked for
        the result of a goal that does not exist (harmless: it answers
        STATUS_UNKNOWN), again each PROBE_PERIOD until an answer comes. The
        result service is the last one of an action client: the server
        answering it has matched the goal and cancel readers too (Fast DDS
        announces a participant's endpoints in order, on reliable writers).
        """
        from rclpy.action.client import ClientGoalHandle
        from unique_identifier_msgs.msg import UUID
        deadline = time.monotonic() + timeout
        if not self.wait_for(client.server_is_ready, timeout):
            return False

        def probe():
            goal_id = UUID(uuid=list(uuid.uuid4().bytes))
            return ClientGoalHandle(client, goal_id, None).get_result_async()
        return self._answered(probe, deadline)

    def wait_for_service(self, client, timeout=10.0):
        """
        Return whether the service of ``client`` is discovered and its node answers.

        As for actions (see :meth:`wait_for_action_server`): once the service
        is seen, the node serving it is asked for no parameter through its
        ``get_parameters`` service, from a client made after ``client``, each
        PROBE_PERIOD until it answers. A node without parameter services is
        not probed.
        """
        from rcl_interfaces.srv import GetParameters
        deadline = time.monotonic() + timeout
        if not self.wait_for(client.service_is_ready, timeout):
            return False
        owner = self._service_owner(client.srv_name)
        if owner is None:
            return True
        probe_client = self.node.create_client(GetParameters, f'{owner}/get_parameters',
                                               callback_group=self.callback_group)
        try:
            left = max(0.0, deadline - time.monotonic())
            if not self.wait_for(probe_client.service_is_ready, left):
                return True  # parameter services off: nothing to probe with
            return self._answered(lambda: probe_client.call_async(GetParameters.Request()),
                                  deadline)
        finally:
            self.node.destroy_client(probe_client)

    def _service_owner(self, service):
        """Return the full name of the node serving ``service``, or None."""
        for name, namespace in self.node.get_node_names_and_namespaces():
            try:
                services = self.node.get_service_names_and_types_by_node(name, namespace)
            except Exception:  # noqa: BLE001 - the node left meanwhile
                continue
            if any(found == service for found, _ in services):
                return namespace.rstrip('/') + '/' + name
        return None

    @staticmethod
    def _answered(send, deadline):
        """Call ``send()`` (a future) each PROBE_PERIOD until one is done; whether in time."""
        while True:
            done = threading.Event()
            send().add_done_callback(lambda _: done.set())
            left = deadline - time.monotonic()
            if done.wait(max(0.0, min(PROBE_PERIOD, left))):
                return True
            if time.monotonic() >= deadline:
                return False

    def wait_for_publisher(self, topic, count=1, timeout=10.0):
        """Return whether ``count`` publishers of ``topic`` (full name) are discovered."""
        return self.wait_for(lambda: self.node.count_publishers(topic) >= count, timeout)

    @staticmethod
    def wait_future(future, timeout=10.0):
        """
        Wait for an rclpy future done by the spinning executor; return its result.

        Fails the test on timeout.
        """
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout):
            pytest.fail(f'no answer within {timeout} s')
        return future.result()

    # Actions and services ---------------------------------------------------

    def send_goal(self, client, goal, timeout=5.0, feedback_callback=None):
        """Send ``goal``; return the ClientGoalHandle (check ``.accepted``)."""
        future = client.send_goal_async(goal, feedback_callback=feedback_callback)
        return self.wait_future(future, timeout)

    def get_result(self, goal_handle, timeout=10.0):
        """Wait for the goal's end; return ``(status, result)``."""
        response = self.wait_future(goal_handle.get_result_async(), timeout)
        return response.status, response.result

    def run_goal(self, client, goal, timeout=10.0, server_timeout=10.0):
        """
        Wait for the server, send ``goal``, collect feedback, wait for the result.

        Returns a ``GoalRun``; ``status`` and ``result`` stay None when the goal
        was rejected.
        """
        if not self.wait_for_action_server(client, server_timeout):
            name = getattr(client, '_action_name', '?')
            pytest.fail(f'action server {name} not available '
                        f'within {server_timeout} s')
        run = GoalRun()
        run.goal_handle = self.send_goal(
            client, goal, timeout, feedback_callback=lambda msg: run.feedback.append(msg.feedback))
        run.accepted = run.goal_handle.accepted
        if run.accepted:
            run.status, run.result = self.get_result(run.goal_handle, timeout)
        return run

    def call_service(self, client, request, timeout=10.0):
        """Call a service (waiting for it first); return the response."""
        if not self.wait_for_service(client, timeout):
            pytest.fail(f'service {client.srv_name} not available within {timeout} s')
        return self.wait_future(client.call_async(request), timeout)
