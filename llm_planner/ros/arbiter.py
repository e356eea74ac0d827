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
Which task runs: the job arbiter, plain Python (no rclpy).

One task runs at a time. The arbiter holds the node's answer to "may this
request go on?", written once for the plan service and the execute action:

* :meth:`JobArbiter.check_active`: the node accepts tasks (else NOT_ACTIVE,
  with the reason the node gives);
* :meth:`JobArbiter.check_busy`: under ``busy_policy`` reject, a task while
  one runs gets BUSY;
* :meth:`JobArbiter.planning`: at most ``max_pending_plans`` tasks wait for
  the model (one more gets BUSY at once);
* :meth:`JobArbiter.claim`: the new task becomes the current one; under
  preempt the running one is canceled (PREEMPTED), and a task that arrived
  before the last one claimed is itself PREEMPTED (the newest request wins
  whatever order the planning ends in);
* the cancel tokens of the running action goals, so that a cancel request
  and the shutdown reach them.

Tasks are numbered when they arrive (:meth:`JobArbiter.arrive`), before
planning. The policy and the limit are read through callables at each
check, so a live parameter change applies to the next request.
"""

from contextlib import contextmanager
import threading

from llm_planner.core.errors import ErrorCode, PlannerError

PREEMPT = 'preempt'
REJECT = 'reject'


class Job:
    """One task being executed; ``done_event`` is set once it has ended."""

    def __init__(self, number, task, steps, source, cancel, feedback=None, future=None):
        self.number = number
        self.task = task
        self.steps = steps
        self.source = source
        self.cancel = cancel
        self.feedback = feedback  # (step_index, step_count, text, state) -> None
        self.future = future  # an awaitable completed with the result (the node's)
        self.previous = None  # the job this one preempted, until it has stopped
        self.done_event = threading.Event()
        self.result = None

    @property
    def done(self):
        """Return True once the job has ended."""
        return self.done_event.is_set()


class JobArbiter:
    """
    Busy, active and cancel checks for every request path.

    ``not_active()`` returns the PlannerError (NOT_ACTIVE) a refused request
    gets; ``policy()`` the busy policy (preempt or reject);
    ``max_pending()`` the bound on tasks waiting for the model.
    """

    def __init__(self, not_active, policy, max_pending):
        self._not_active = not_active
        self._policy = policy
        self._max_pending = max_pending
        self.lock = threading.RLock()
        self._active = False
        self.stopping = False
        self._job = None
        self._arrived = 0
        self._last_claimed = 0
        self._pending = 0
        self._goals = {}  # goal key -> cancel token of a running action goal

    # --- state --------------------------------------------------------------

    @property
    def active(self):
        """Return whether the node accepts tasks."""
        with self.lock:
            return self._active

    @active.setter
    def active(self, value):
        with self.lock:
            self._active = bool(value)

    @property
    def job(self):
        """Return the current task, ended or not; None when there is none."""
        with self.lock:
            return self._job

    def running(self):
        """Return the current job while it runs, else None."""
        with self.lock:
            job = self._job
        return job if job is not None and not job.done else None

    @property
    def pending(self):
        """Return how many tasks wait for (or are in) planning."""
        with self.lock:
            return self._pending

    # --- checks -------------------------------------------------------------

    def check_active(self):
        """Raise NOT_ACTIVE unless the node accepts tasks."""
        if not self.active:
            raise self._not_active()

    def check_busy(self):
        """Raise BUSY when a task runs and the policy is reject."""
        job = self.running()
        if job is not None and self._policy() == REJECT:
            raise _busy(job)

    def arrive(self):
        """Return the arrival number of a new task (service without dry run, or goal)."""
        with self.lock:
            self._arrived += 1
            return self._arrived

    @contextmanager
    def planning(self):
        """Hold one of the ``max_pending`` planning places (BUSY when none is left)."""
        limit = self._max_pending()
        with self.lock:
            if self._pending >= limit:
                raise PlannerError(
                    ErrorCode.BUSY, f'{self._pending} tasks already wait for the model '
                                    f'(max_pending_plans {limit}); try again later')
            self._pending += 1
        try:
            yield
        finally:
            with self.lock:
                self._pending -= 1

    def claim(self, job):
        """
        Make ``job`` the current task; return the job it preempts, or None.

        Raises NOT_ACTIVE, BUSY (reject policy, a task runs) or PREEMPTED (a
        newer task was claimed first, preempt policy).
        """
        with self.lock:
            if not self._active:
                raise self._not_active()
            current = self._job
            running = current is not None and not current.done
            policy = self._policy()
            if running and policy == REJECT:
                raise _busy(current)
            if job.number < self._last_claimed and policy == PREEMPT:
                raise PlannerError(
                    ErrorCode.PREEMPTED, f'task {self._last_claimed} arrived later and was '
                                         f'started first')
            preempted = None
            if running:
                current.cancel.cancel(ErrorCode.PREEMPTED)
                job.previous = preempted = current
            self._job = job
            self._last_claimed = job.number
            return preempted

    def release(self, job):
        """Forget ``job`` as the current task (it has ended)."""
        with self.lock:
            if self._job is job:
                self._job = None

    # --- action goals -------------------------------------------------------

    def add_goal(self, key, token):
        """Register a running goal's cancel token; return True when the node is stopping."""
        with self.lock:
            self._goals[key] = token
            return not self._active and self.stopping

    def cancel_goal(self, key, reason=ErrorCode.CANCELED):
        """Cancel the goal ``key`` (a cancel request); nothing when it has ended."""
        with self.lock:
            token = self._goals.get(key)
        if token is not None:
            token.cancel(reason)

    def remove_goal(self, key):
        """Forget a goal that has ended."""
        with self.lock:
            self._goals.pop(key, None)

    def stop_all(self, reason):
        """
        Refuse new tasks and cancel the running one and every goal with ``reason``.

        Returns the job that was running (or None).
        """
        with self.lock:
            self._active = False
            self.stopping = True
            job = self._job
            tokens = list(self._goals.values())
        if job is not None and not job.done:
            job.cancel.cancel(reason)
        else:
            job = None
        for token in tokens:
            token.cancel(reason)
        return job


def _busy(job):
    return PlannerError(ErrorCode.BUSY, f'busy with task {job.number} ({job.task!r}); '
                                        f'busy_policy is reject')
