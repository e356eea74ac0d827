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
``ReplyGate``: hold a service's answer until the node has discovered the caller's reader.

:func:`gate_replies` puts a gate on each of a node's services (``~/plan``,
the parameter and lifecycle services): the answer, once made, is held
(awaited, not holding a thread; at most REPLY_MATCH_WAIT s) until the node
knows a response reader for each of the service's callers.

A service client is two DDS endpoints: a request writer and a response
reader. Discovery is not symmetric, nor in step between the two: a request
can reach the node before the node has discovered the caller's response
reader (a new node, or a caller with many endpoints, on a busy CPU). Fast DDS
then waits only 100 ms for that reader and drops the response ("failed to
send response (timeout): client will not receive response"); the caller
waits forever. rclpy does not say which reader a request came from, so the
gate compares counts in the node's graph: every request writer of the
service must have a response reader beside it (``rq/<service>Request``
writers, ``rr/<service>Reply`` readers: the DDS topic names of a service,
the same in Fast DDS, Cyclone DDS and Connext). Where the RMW names its
topics otherwise, both counts are 0 and nothing is held.
"""

import inspect

from llm_planner.ros.waits import DONE

# How long an answer is held at most for the caller's reader to be discovered;
# it is sent anyway afterwards (Fast DDS then drops it if still unmatched).
REPLY_MATCH_WAIT = 5.0


class ReplyGate:
    """``ready()``: the node knows a response reader for each caller of ``service``."""

    def __init__(self, node, service_name):
        self._node = node
        self.service = service_name
        self._request_topic = f'rq{service_name}Request'
        self._reply_topic = f'rr{service_name}Reply'

    def counts(self):
        """Return (request writers, response readers) that the node's graph shows."""
        writers = self._node.get_publishers_info_by_topic(self._request_topic, no_mangle=True)
        readers = self._node.get_subscriptions_info_by_topic(self._reply_topic, no_mangle=True)
        return len(writers), len(readers)

    def ready(self):
        """Return True when no caller's response reader is missing from the graph."""
        try:
            writers, readers = self.counts()
        except Exception:  # noqa: BLE001 - the node is being destroyed: do not hold the answer
            return True
        return readers >= writers


def service_name(node, service):
    """Return the fully qualified name of ``service`` (``service_name`` is not in Humble)."""
    name = getattr(service, 'service_name', None)
    return name if name else node.resolve_service_name(service.srv_name)


def gate_replies(node, waits, services, timeout=REPLY_MATCH_WAIT):
    """
    Make each of ``services`` hold its answer until ``ReplyGate.ready()`` (see the module doc).

    ``waits``: the node's :class:`~llm_planner.ros.waits.Waits`. The service's
    callback (plain or a coroutine) is wrapped by a coroutine: rclpy's
    executor awaits it and sends what it returns.
    """
    for service in services:
        gate = ReplyGate(node, service_name(node, service))
        service.callback = _gated(node, waits, gate, service.callback, timeout)


def _gated(node, waits, gate, callback, timeout):
    async def answer(request, response):
        response = callback(request, response)
        if inspect.isawaitable(response):
            response = await response
        if not gate.ready() and await waits.until(gate.ready, timeout) != DONE:
            node.get_logger().warning(
                f'{gate.service}: a caller is still undiscovered after {timeout:g} s '
                f'(request writers, response readers: {gate.counts()}); answering anyway')
        return response
    return answer
