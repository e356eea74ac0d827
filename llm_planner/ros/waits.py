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
Awaitable waits with deadlines for rclpy coroutine callbacks.

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
"""

import math
import threading
import time

from rclpy.task import Future

DONE = 'done'
TIMEOUT = 'timeout'
CANCELED = 'canceled'

TICK_PERIOD = 0.05


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
