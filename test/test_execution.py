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
"""The execution core with explicit programs and fake runners: no ROS graph."""

import asyncio
import pathlib
import threading

from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.execution import (CancelToken, check_runnable, LatestPose, MapRunner,
                                   PlanExecutor, Pose, PoseTopicRunner, run_sync)
import pytest

CONFIG = pathlib.Path(__file__).resolve().parent.parent / 'config'

FETCH = """
$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
$banana = SEARCH(object_name:"banana")
GRAB(where:$banana)
"""
BANANA = Pose('map', 3.2, 1.1, 0.0)


@pytest.fixture(scope='module')
def catalog():
    return SkillCatalog.load(CONFIG / 'skills.yaml')


@pytest.fixture(scope='module')
def semantic_map():
    return SemanticMap.load(CONFIG / 'locations.yaml')


class FakeActions:
    """An `action` runner that records calls and answers from a script."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or {}

    def __call__(self, call):
        self.calls.append((call.step.function, dict(call.args), call.timeout))
        answer = self.answers.get(call.step.function)
        if callable(answer):
            return answer(call)
        if isinstance(answer, Exception):
            raise answer
        if answer is not None:
            return answer
        return BANANA if call.skill.returns else None


def make(catalog, semantic_map, actions, latest=None, progress=None, **kwargs):
    latest = latest or LatestPose()
    runners = {
        'map': MapRunner(semantic_map),
        'pose_topic': PoseTopicRunner(latest, 2.0),
        'action': actions,
    }
    return PlanExecutor(catalog, runners, progress=progress, **kwargs)


def test_steps_run_in_order_with_variables(catalog, semantic_map):
    actions = FakeActions()
    events = []
    executor = make(catalog, semantic_map, actions,
                    progress=lambda *a: events.append(a))
    result = run_sync(executor.execute(parse_program(FETCH)))
    assert result.success, result.message
    assert (result.error_code, result.failed_step, result.steps_done) == ('', -1, 4)
    kitchen = Pose('map', 3.0, 1.0, 0.0)
    assert actions.calls == [
        ('GO', {'to': kitchen}, 120.0),
        ('SEARCH', {'object_name': 'banana'}, 60.0),
        ('GRAB', {'where': BANANA}, 60.0),
    ]
    assert result.values == {'$kitchen': kitchen, '$banana': BANANA}
    assert [(e[0], e[1], e[3]) for e in events] == [
        (i, 4, state) for i in range(4) for state in ('running', 'succeeded')]
    assert events[2][2] == 'GO(to:$kitchen)'


def test_alias_resolves_to_the_place(catalog, semantic_map):
    actions = FakeActions()
    program = parse_program('$k = GET_LOCATION(location_name:"Cuisine")\nGO(to:$k)')
    result = run_sync(make(catalog, semantic_map, actions).execute(program))
    assert result.success
    assert actions.calls[0][1] == {'to': Pose('map', 3.0, 1.0, 0.0)}


def test_failure_stops_the_plan(catalog, semantic_map):
    actions = FakeActions({'SEARCH': PlannerError(ErrorCode.OBJECT_NOT_FOUND, 'no banana')})
    events = []
    executor = make(catalog, semantic_map, actions, progress=lambda *a: events.append(a))
    result = run_sync(executor.execute(parse_program(FETCH)))
    assert not result.success
    assert result.error_code == ErrorCode.OBJECT_NOT_FOUND
    assert result.failed_step == 2
    assert result.steps_done == 2
    assert 'step 3 (SEARCH)' in result.message and 'no banana' in result.message
    assert [c[0] for c in actions.calls] == ['GO', 'SEARCH']  # GRAB never sent
    assert events[-1] == (2, 4, '$banana = SEARCH(object_name:"banana")', 'failed')


def test_unknown_place_fails_at_get_location(catalog, semantic_map):
    actions = FakeActions()
    program = parse_program('$g = GET_LOCATION(location_name:"garage")\nGO(to:$g)')
    result = run_sync(make(catalog, semantic_map, actions).execute(program))
    assert (result.error_code, result.failed_step) == (ErrorCode.UNKNOWN_LOCATION, 0)
    assert 'kitchen' in result.message
    assert actions.calls == []


def test_runner_exception_is_internal_error(catalog, semantic_map):
    actions = FakeActions({'GO': RuntimeError('boom')})
    result = run_sync(make(catalog, semantic_map, actions).execute(parse_program(FETCH)))
    assert (result.error_code, result.failed_step) == (ErrorCode.INTERNAL_ERROR, 1)
    assert 'boom' in result.message


def test_runner_returning_the_wrong_type_is_internal_error(catalog, semantic_map):
    actions = FakeActions({'SEARCH': 'not a pose'})
    result = run_sync(make(catalog, semantic_map, actions).execute(parse_program(FETCH)))
    assert (result.error_code, result.failed_step) == (ErrorCode.INTERNAL_ERROR, 2)
    assert [c[0] for c in actions.calls] == ['GO', 'SEARCH']


def test_progress_callback_errors_do_not_stop_execution(catalog, semantic_map):
    def progress(*_):
        raise ValueError('publisher gone')
    result = run_sync(make(catalog, semantic_map, FakeActions(), progress=progress)
                      .execute(parse_program(FETCH)))
    assert result.success


def test_an_invalid_plan_runs_nothing(catalog, semantic_map):
    actions = FakeActions()
    program = parse_program('GO(to:$nowhere)')
    result = run_sync(make(catalog, semantic_map, actions).execute(program))
    assert (result.success, result.error_code, result.failed_step) == (
        False, ErrorCode.INVALID_PLAN, -1)
    assert actions.calls == []


def test_a_skill_without_runner_runs_nothing(catalog, semantic_map):
    executor = PlanExecutor(catalog, {'map': MapRunner(semantic_map)})
    result = run_sync(executor.execute(parse_program(FETCH)))
    assert (result.error_code, result.failed_step, result.steps_done) == (
        ErrorCode.UNSUPPORTED_TASK, 1, 0)


def test_default_step_timeout_applies_without_binding_timeout():
    catalog = SkillCatalog.from_dict({'skills': [
        {'name': 'WAVE', 'description': 'wave', 'run': {'kind': 'action'}},
        {'name': 'BOW', 'description': 'bow', 'run': {'kind': 'action', 'timeout': 3}},
    ]})
    actions = FakeActions()
    executor = PlanExecutor(catalog, {'action': actions}, step_timeout=lambda: 7.5)
    assert run_sync(executor.execute(parse_program('WAVE()\nBOW()'))).success
    assert [c[2] for c in actions.calls] == [7.5, 3.0]


def test_cancel_before_the_first_step(catalog, semantic_map):
    actions = FakeActions()
    token = CancelToken()
    token.cancel()
    result = run_sync(make(catalog, semantic_map, actions).execute(parse_program(FETCH), token))
    assert (result.error_code, result.failed_step, result.steps_done) == (
        ErrorCode.CANCELED, 0, 0)
    assert actions.calls == []


def test_cancel_between_steps_sends_no_further_step(catalog, semantic_map):
    token = CancelToken()

    def go(call):
        token.cancel()  # the cancel arrives while GO runs; GO itself completes
        return None
    actions = FakeActions({'GO': go})
    result = run_sync(make(catalog, semantic_map, actions).execute(parse_program(FETCH), token))
    assert (result.error_code, result.failed_step, result.steps_done) == (
        ErrorCode.CANCELED, 2, 2)
    assert 'before step 3' in result.message
    assert [c[0] for c in actions.calls] == ['GO']


def test_cancel_during_a_step_reaches_the_runner(catalog, semantic_map):
    """An async runner waits on the token; the cancel comes from another thread."""
    token = CancelToken()
    started = threading.Event()
    seen = []

    async def go(call):
        started.set()
        while not call.cancel.is_set():
            await asyncio.sleep(0.01)
        seen.append(call.cancel.reason)
        raise PlannerError(ErrorCode.CANCELED, 'goal canceled')

    events = []
    executor = make(catalog, semantic_map, FakeActions({'GO': go}),
                    progress=lambda *a: events.append(a[3]))
    canceler = threading.Thread(target=lambda: started.wait(5) and token.cancel('PREEMPTED'))
    canceler.start()
    result = asyncio.run(executor.execute(parse_program(FETCH), token))
    canceler.join()
    assert seen == ['PREEMPTED']
    assert (result.error_code, result.failed_step, result.steps_done) == (
        ErrorCode.PREEMPTED, 1, 1)
    assert 'preempted' in result.message
    assert events == ['running', 'succeeded', 'running', 'canceled']


def test_a_canceled_code_without_a_cancel_is_a_failure(catalog, semantic_map):
    """A server that cancels on its own is a step failure, not a caller cancel."""
    actions = FakeActions({'GO': PlannerError(ErrorCode.CANCELED, 'server canceled')})
    result = run_sync(make(catalog, semantic_map, actions).execute(parse_program(FETCH)))
    assert (result.error_code, result.failed_step) == (ErrorCode.CANCELED, 1)


def test_cancel_token():
    token = CancelToken()
    calls = []
    token.add_callback(lambda: calls.append('a'))
    removed = calls.append
    token.add_callback(removed)
    token.remove_callback(removed)
    assert token.cancel('PREEMPTED')
    assert not token.cancel('CANCELED')
    assert token.reason == 'PREEMPTED' and token.is_set() and token.wait(0)
    token.add_callback(lambda: calls.append('late'))
    assert calls == ['a', 'late']


def test_pose_topic_runner(catalog, semantic_map):
    now = [100.0]
    latest = LatestPose(now=lambda: now[0])
    max_age = [2.0]
    runner = PoseTopicRunner(latest, lambda: max_age[0], topic='amcl_pose')
    program = parse_program('$here = GET_CURRENT_LOCATION()\nGO(to:$here)')

    def run():
        actions = FakeActions()
        executor = PlanExecutor(catalog, {'pose_topic': runner, 'action': actions})
        return run_sync(executor.execute(program)), actions.calls

    result, calls = run()
    assert (result.error_code, result.failed_step) == (ErrorCode.POSE_UNAVAILABLE, 0)
    assert 'amcl_pose' in result.message and calls == []

    here = Pose('map', 1.0, 2.0, 0.5)
    latest.update(here, stamp=99.5)
    result, calls = run()
    assert result.success and calls[0][1] == {'to': here}

    now[0] = 110.0
    result, calls = run()
    assert result.error_code == ErrorCode.POSE_UNAVAILABLE
    assert '10.5 s old' in result.message and calls == []

    max_age[0] = 0.0  # no limit
    assert run()[0].success


def test_latest_pose_unstamped_uses_now():
    now = [5.0]
    latest = LatestPose(now=lambda: now[0])
    assert latest.get() == (None, None)
    latest.update(Pose('map', 0, 0))
    now[0] = 6.0
    assert latest.get()[1] == pytest.approx(1.0)


def test_check_runnable(catalog):
    assert check_runnable(catalog, {'map': 1, 'pose_topic': 1, 'action': 1}) == []
    problems = check_runnable(catalog, {'map': 1, 'action': 1})
    assert problems == [
        "skill GET_CURRENT_LOCATION: no runner for run kind 'pose_topic' (known: action, map)"]
    bad = SkillCatalog.from_dict({'skills': [
        {'name': 'A', 'description': 'a'},
        {'name': 'B', 'description': 'b', 'run': {'kind': 'action', 'timeout': -1}},
    ]})
    assert check_runnable(bad, {'action': 1}) == [
        'skill A has no run: binding', 'skill B: run.timeout must be a positive number']


def test_run_sync_refuses_pending_awaits():
    async def pending():
        await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError):
        run_sync(pending())
