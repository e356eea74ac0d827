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
"""Unit tests of llm_planner.ros.arbiter: the job arbiter, driven without a ROS graph."""

import subprocess
import sys

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.execution import CancelToken
from llm_planner.ros.arbiter import Job, JobArbiter
import pytest


class Settings:
    def __init__(self, policy='preempt', max_pending=2):
        self.policy = policy
        self.max_pending = max_pending


def make(policy='preempt', max_pending=2, active=True):
    settings = Settings(policy, max_pending)
    arbiter = JobArbiter(lambda: PlannerError(ErrorCode.NOT_ACTIVE, 'the planner node is off'),
                         lambda: settings.policy, lambda: settings.max_pending)
    arbiter.active = active
    return arbiter, settings


def job(arbiter, task='go'):
    return Job(arbiter.arrive(), task, [], 'test', CancelToken())


def test_the_arbiter_loads_no_rclpy():
    code = ('import sys, llm_planner.ros.arbiter\n'
            'print(sorted(m for m in sys.modules if "rcl" in m))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == '[]'


def test_not_active_refuses_with_the_nodes_reason():
    arbiter, _ = make(active=False)
    with pytest.raises(PlannerError) as e:
        arbiter.check_active()
    assert e.value.code == ErrorCode.NOT_ACTIVE and 'is off' in e.value.message
    with pytest.raises(PlannerError) as e:
        arbiter.claim(job(arbiter))
    assert e.value.code == ErrorCode.NOT_ACTIVE
    arbiter.active = True
    arbiter.check_active()


def test_tasks_are_numbered_on_arrival():
    arbiter, _ = make()
    assert [arbiter.arrive() for _ in range(3)] == [1, 2, 3]


def test_reject_policy_refuses_a_task_while_one_runs():
    arbiter, _ = make(policy='reject')
    first = job(arbiter, 'first task')
    assert arbiter.claim(first) is None
    with pytest.raises(PlannerError) as e:
        arbiter.check_busy()
    assert e.value.code == ErrorCode.BUSY and "'first task'" in e.value.message
    second = job(arbiter)
    with pytest.raises(PlannerError) as e:
        arbiter.claim(second)
    assert e.value.code == ErrorCode.BUSY
    assert arbiter.running() is first and not first.cancel.is_set()
    first.done_event.set()
    arbiter.check_busy()
    assert arbiter.claim(second) is None and arbiter.running() is second


def test_preempt_policy_cancels_the_running_task():
    arbiter, _ = make()
    first = job(arbiter)
    arbiter.claim(first)
    arbiter.check_busy()  # never BUSY under preempt
    second = job(arbiter)
    assert arbiter.claim(second) is first
    assert first.cancel.is_set() and first.cancel.reason == ErrorCode.PREEMPTED
    assert second.previous is first and arbiter.running() is second


def test_the_newest_arrival_wins_whatever_order_planning_ends_in():
    arbiter, _ = make()
    older, newer = job(arbiter), job(arbiter)
    arbiter.claim(newer)
    with pytest.raises(PlannerError) as e:
        arbiter.claim(older)
    assert e.value.code == ErrorCode.PREEMPTED and 'task 2' in e.value.message
    assert arbiter.running() is newer and not newer.cancel.is_set()


def test_the_policy_is_read_at_each_check():
    arbiter, settings = make(policy='preempt')
    arbiter.claim(job(arbiter))
    arbiter.check_busy()
    settings.policy = 'reject'
    with pytest.raises(PlannerError):
        arbiter.check_busy()


def test_planning_places_are_bounded_and_given_back():
    arbiter, settings = make(max_pending=2)
    with arbiter.planning(), arbiter.planning():
        assert arbiter.pending == 2
        with pytest.raises(PlannerError) as e:
            with arbiter.planning():
                pass
        assert e.value.code == ErrorCode.BUSY and 'max_pending_plans 2' in e.value.message
    assert arbiter.pending == 0
    with pytest.raises(RuntimeError):
        with arbiter.planning():
            raise RuntimeError('planning failed')
    assert arbiter.pending == 0  # a failure gives its place back
    settings.max_pending = 3
    with arbiter.planning(), arbiter.planning(), arbiter.planning():
        assert arbiter.pending == 3


def test_release_forgets_only_the_current_job():
    arbiter, _ = make()
    first, second = job(arbiter), job(arbiter)
    arbiter.claim(first)
    arbiter.claim(second)
    arbiter.release(first)  # the preempted one ending does not clear the new one
    assert arbiter.job is second
    arbiter.release(second)
    assert arbiter.job is None and arbiter.running() is None


def test_a_goal_cancel_reaches_its_token_only():
    arbiter, _ = make()
    a, b = CancelToken(), CancelToken()
    assert arbiter.add_goal(b'a', a) is False
    arbiter.add_goal(b'b', b)
    arbiter.cancel_goal(b'a')
    assert a.is_set() and a.reason == ErrorCode.CANCELED and not b.is_set()
    arbiter.remove_goal(b'b')
    arbiter.cancel_goal(b'b')  # an ended goal: nothing happens
    arbiter.cancel_goal(b'unknown')
    assert not b.is_set()


def test_stop_all_ends_the_running_task_and_every_goal_with_the_reason():
    arbiter, _ = make()
    running = job(arbiter)
    arbiter.claim(running)
    token = CancelToken()
    arbiter.add_goal(b'g', token)
    assert arbiter.stop_all(ErrorCode.SHUTDOWN) is running
    assert running.cancel.reason == ErrorCode.SHUTDOWN and token.reason == ErrorCode.SHUTDOWN
    assert not arbiter.active and arbiter.stopping
    late = CancelToken()
    assert arbiter.add_goal(b'late', late) is True  # a goal arriving now is told to stop
    with pytest.raises(PlannerError) as e:
        arbiter.check_active()
    assert e.value.code == ErrorCode.NOT_ACTIVE


def test_stop_all_without_a_running_task():
    arbiter, _ = make()
    ended = job(arbiter)
    arbiter.claim(ended)
    ended.done_event.set()
    assert arbiter.stop_all(ErrorCode.SHUTDOWN) is None
    assert not ended.cancel.is_set()
