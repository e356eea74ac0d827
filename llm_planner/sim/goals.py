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
How the loopback robot's servers run a goal: one shared sequence, three behaviours.

:class:`GoalExecution` is a part of :class:`llm_planner.sim.sim_robot.SimRobot`
(a mixin over its lock, world, pose and stop event): every goal runs
:meth:`GoalExecution._execute` (injected delay with feedback flowing, an
injected abort or the server's work, then cancel / preemption / shutdown);
navigate, search and grab differ only in their work and result.
"""

import math
import os
import sys
import time

from llm_planner.core.geometry import Pose
from llm_planner.sim.world import DIE_EXIT_CODE, pose_text
from llm_planner_interfaces.action import GrabObject, Navigate, SearchObject

# Outcomes of a goal, as logged.
SUCCEEDED = 'SUCCEEDED'
ABORTED = 'ABORTED'
CANCELED = 'CANCELED'
PREEMPTED = 'PREEMPTED'
SHUTDOWN = 'SHUTDOWN'

_ARRIVED = 1e-6


class Goal:
    """One goal being executed: its handle, server, log label, result and failures."""

    def __init__(self, robot, handle, server, label, result):
        self.started = time.monotonic()
        self.handle = handle
        self.server = server
        self.label = label
        self.result = result
        # The failures in force when the goal started (a later `fail` applies to later goals).
        self.failures = robot._world.failures.server(server)
        self.status = 'waiting'  # the feedback text of search and grab


class GoalExecution:
    """The goal sequence and the navigate / search / grab behaviours of SimRobot."""

    def _interrupted(self, goal):
        """Return why the goal must stop now (an outcome), or None to go on."""
        failures = goal.failures
        if (failures.die_after is not None
                and time.monotonic() - goal.started >= failures.die_after):
            self._die(goal.server, failures.die_after)
        if self._stop.is_set() or not self.context.ok():
            return SHUTDOWN
        if goal.handle.is_cancel_requested:
            return CANCELED
        if goal.server == 'navigate':
            with self._lock:
                if self._nav_current is not goal.handle:
                    return PREEMPTED
        return None

    def _die(self, server, seconds):
        self.get_logger().fatal(
            f'injected failure {server}:die_after:{seconds:g}: the process exits now '
            f'(status {DIE_EXIT_CODE})')
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(DIE_EXIT_CODE)

    def _spend(self, goal, seconds, feedback):
        """Let ``seconds`` pass, publishing feedback; return an outcome if interrupted."""
        end = time.monotonic() + seconds
        while True:
            outcome = self._interrupted(goal)
            if outcome is not None:
                return outcome
            feedback()
            left = end - time.monotonic()
            if left <= 0.0:
                return None
            self._stop.wait(min(self._feedback_period, left))

    def _finish(self, goal, outcome, detail):
        """Set the goal's terminal state, log the one-line summary and return its result."""
        handle = goal.handle
        try:
            if outcome == SUCCEEDED:
                handle.succeed()
            elif outcome == CANCELED:
                handle.canceled()
            else:
                handle.abort()
        except Exception as error:  # the context may be gone at shutdown
            detail += f' (state not set: {error})'
        if goal.server == 'navigate':
            with self._lock:
                if self._nav_current is handle:
                    self._nav_current = None
        text = (f'GOAL {self._names[goal.server]} {goal.label} -> {outcome}{detail} '
                f'in {time.monotonic() - goal.started:.1f} s')
        if outcome in (SUCCEEDED, CANCELED):
            self.get_logger().info(text)
        else:
            self.get_logger().warning(text)
        return goal.result

    def _execute(self, goal, feedback, finish, work, abort=None):
        """
        Run a goal through the sequence every server shares; return its result.

        The injected delay (feedback flowing), then an injected abort
        (``abort(ABORTED, message)``, by default ``finish``) or the server's
        ``work()``, which returns ``(None, result)`` when done or
        ``(outcome, None)`` when stopped. A goal canceled, preempted or shut
        down ends with ``finish(outcome, message)``.
        """
        outcome = self._spend(goal, goal.failures.delay, feedback)
        if outcome is None and goal.failures.abort:
            message = goal.failures.abort_message or f'injected failure {goal.server}:abort'
            return (abort or finish)(ABORTED, message)
        if outcome is None:
            outcome, result = work()
            if outcome is None:
                return result
        return finish(outcome, self._interruption_message(outcome))

    @staticmethod
    def _interruption_message(outcome):
        return {
            CANCELED: 'canceled',
            PREEMPTED: 'preempted by a newer goal',
            SHUTDOWN: 'sim_robot is shutting down',
        }.get(outcome, outcome.lower())

    # Navigate ---------------------------------------------------------------

    def _execute_navigate(self, goal_handle):
        target, _ = self._to_pose2d(goal_handle.request.pose, need_orientation=True)
        goal = Goal(self, goal_handle, 'navigate', f'pose={pose_text(target)}', Navigate.Result())

        def feedback():
            pose = self.robot_pose()
            msg = Navigate.Feedback()
            msg.current_pose = self._pose_stamped(pose)
            msg.distance_remaining = float(pose.distance_to(target))
            goal_handle.publish_feedback(msg)

        def finish(outcome, error_msg='', error_code=0):
            goal.result.error_code = error_code
            goal.result.error_msg = error_msg
            detail = ''
            if outcome in (ABORTED, PREEMPTED, SHUTDOWN):
                detail = f' error_code={error_code} ({error_msg})'
            return self._finish(goal, outcome, detail)

        def abort(outcome, message):
            feedback()
            return finish(outcome, message, goal.failures.abort_code)

        def work():
            speed = self._world.speed / goal.failures.slow
            last = time.monotonic()
            while True:
                outcome = self._interrupted(goal)
                if outcome is not None:
                    return outcome, None
                now = time.monotonic()
                step = speed * (now - last)
                last = now
                with self._lock:
                    if self._nav_current is goal_handle:
                        self._pose = self._step_towards(self._pose, target, step)
                    remaining = self._pose.distance_to(target)
                feedback()
                if remaining <= _ARRIVED:
                    break
                self._stop.wait(min(self._feedback_period, remaining / speed))
            with self._lock:
                if self._nav_current is goal_handle:
                    self._pose = target
            return None, finish(SUCCEEDED)

        return self._execute(goal, feedback, finish, work, abort)

    @staticmethod
    def _step_towards(pose, target, step):
        dx = target.x - pose.x
        dy = target.y - pose.y
        distance = math.hypot(dx, dy)
        if distance <= step or distance <= _ARRIVED:
            return Pose(target.frame, target.x, target.y, target.yaw)
        ratio = step / distance
        return Pose(target.frame, pose.x + dx * ratio, pose.y + dy * ratio, math.atan2(dy, dx))

    # Search and grab: a status text as feedback, a timed action, then a check -------

    def _status_feedback(self, goal, feedback_type):
        def feedback():
            msg = feedback_type()
            msg.status = goal.status
            goal.handle.publish_feedback(msg)
        return feedback

    def _timed_work(self, goal, status, seconds, feedback, then):
        """Return the work of a timed action: ``seconds`` spent, then ``then()``."""
        def work():
            goal.status = status
            outcome = self._spend(goal, seconds * goal.failures.slow, feedback)
            return (outcome, None) if outcome is not None else (None, then())
        return work

    def _execute_search(self, goal_handle):
        name = goal_handle.request.object_name.strip()
        goal = Goal(self, goal_handle, 'search', f'object={name!r}', SearchObject.Result())
        feedback = self._status_feedback(goal, SearchObject.Feedback)

        def finish(outcome, message, detail=None):
            goal.result.message = message
            return self._finish(goal, outcome, f' ({message})' if detail is None else detail)

        def look():
            robot = self.robot_pose()
            pose = self._world.find_object(name, robot)
            if pose is None:
                radius = self._world.search_radius
                where = 'anywhere' if math.isinf(radius) else (
                    f'within {radius:.2f} m of the robot at ({robot.x:.2f}, {robot.y:.2f})')
                return finish(SUCCEEDED, f'{name} not found {where}', f' not found ({where})')
            goal.result.found = True
            goal.result.pose = self._pose_stamped(pose)
            text = pose_text(pose)
            return finish(SUCCEEDED, f'{name} found at {text}', f' found at {text}')

        work = self._timed_work(goal, f'searching for {name}', self._world.search_seconds,
                                feedback, look)
        return self._execute(goal, feedback, finish, work)

    def _execute_grab(self, goal_handle):
        name = goal_handle.request.object_name.strip()
        where, _ = self._to_pose2d(goal_handle.request.where, need_orientation=False)
        goal = Goal(self, goal_handle, 'grab', f'object={name!r} where={pose_text(where)}',
                    GrabObject.Result())
        feedback = self._status_feedback(goal, GrabObject.Feedback)

        def finish(outcome, message, success=False):
            goal.result.success = success
            goal.result.message = message
            return self._finish(goal, outcome, f' ({message})')

        def pick():
            robot = self.robot_pose()
            reach = robot.distance_to(where)
            if reach > self._world.arm_reach:
                return finish(
                    ABORTED, f'({where.x:.2f}, {where.y:.2f}) is {reach:.2f} m from the robot, '
                    f'beyond arm reach {self._world.arm_reach:.2f} m')
            hit = self._world.object_near(where, name)
            if hit is None:
                return finish(
                    ABORTED, f'no {name or "object"} within {self._world.grab_tolerance:.2f} m '
                    f'of ({where.x:.2f}, {where.y:.2f})')
            return finish(SUCCEEDED, f'grabbed {hit[0]}', success=True)

        work = self._timed_work(goal, f'grabbing {name or "an object"}', self._world.grab_seconds,
                                feedback, pick)
        return self._execute(goal, feedback, finish, work)
