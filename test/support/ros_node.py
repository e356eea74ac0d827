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

import pytest

# Extra wait after a server is first discovered (see wait_for_action_server).
SETTLE_SECONDS = 0.75


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
        # Clients whose server was seen: {client: (is_ready, first seen ready at)}.
        self._clients = {}
        self._clients_lock = threading.Lock()
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
        with self._clients_lock:
            self._clients[client] = [client.server_is_ready, None]
        return client

    def service_client(self, srv_type, name):
        """Create a service client on the node (destroyed at close)."""
        client = self.node.create_client(srv_type, name, callback_group=self.callback_group)
        self._entities.append(client)
        with self._clients_lock:
            self._clients[client] = [client.service_is_ready, None]
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

    def wait_for_action_server(self, client, timeout=10.0, settle=SETTLE_SECONDS):
        """
        Return whether the action server of ``client`` is discovered within ``timeout``.

        Returns only ``settle`` seconds after the server was first seen: the
        server may discover this client's endpoints a little after the client
        discovered the server's, and a request sent in between gets no
        response. (Every client of this node is watched while waiting, so
        several clients of one new process settle together.)
        """
        return self._wait_ready(client, client.server_is_ready, timeout, settle)

    def wait_for_service(self, client, timeout=10.0, settle=SETTLE_SECONDS):
        """Return whether the service of ``client`` is discovered (see wait_for_action_server)."""
        return self._wait_ready(client, client.service_is_ready, timeout, settle)

    def _poll_clients(self):
        now = time.monotonic()
        with self._clients_lock:
            entries = list(self._clients.values())
        for entry in entries:
            if not entry[0]():
                entry[1] = None  # gone (or not yet there): settle again when it is back
            elif entry[1] is None:
                entry[1] = now

    def _wait_ready(self, client, is_ready, timeout, settle):
        with self._clients_lock:
            entry = self._clients.setdefault(client, [is_ready, None])
        deadline = time.monotonic() + timeout
        while True:
            self._poll_clients()
            if entry[1] is not None:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        left = entry[1] + settle - time.monotonic()
        if left > 0:
            time.sleep(left)
        return True

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
