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
The ROS runners against the loopback robot (sim_robot), over real DDS.

Explicit programs run through the execution core with the real runners (map,
pose topic, actions) in this process, against sim_robot in a subprocess with
failures injected by its parameters: the failure matrix of a step.
"""

import copy
import math
import pathlib
import threading
import time

from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode
from llm_planner.core.program import parse_program
from llm_planner.core.semantic_map import SemanticMap
from llm_planner.execution import (CancelToken, LatestPose, MapRunner, PlanExecutor, Pose,
                                   PoseTopicRunner)
from llm_planner.ros.action_runner import ActionRunner
from llm_planner.ros.bindings import action_bindings, ActionBinding, BindingError, load_action_type
from llm_planner.ros.messages import (msg_to_pose, pose_to_stamped, quaternion_to_yaw,
                                      yaw_to_quaternion)
from llm_planner.ros.pose_topic import ros_clock_seconds, subscribe_pose
from llm_planner.ros.waits import CANCELED, DONE, TIMEOUT, Waits
import pytest
from rclpy.task import Future
from support.ros_utils import unique, wait_until
import yaml

CONFIG = pathlib.Path(__file__).resolve().parent.parent / 'config'
FETCH = """
$start = GET_CURRENT_LOCATION()
$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
$banana = SEARCH(object_name:"banana")
GRAB(where:$banana)
GO(to:$start)
"""
SERVER_KEYS = {'navigate_to_pose': 'navigate', 'search_object': 'search', 'grab_object': 'grab'}


class Ros:
    """The conftest's test node plus the runners' Waits, running coroutines on its executor."""

    def __init__(self, ros_node):
        self.test_node = ros_node
        self.node = ros_node.node
        self.group = ros_node.callback_group
        self.executor = ros_node.executor
        self.waits = Waits(self.node, self.group)

    def run(self, coroutine, timeout=60.0):
        """Run a coroutine on the spinning executor; return its value."""
        return self.test_node.wait_future(self.executor.create_task(coroutine), timeout)


@pytest.fixture(scope='module')
def ros(ros_node):
    harness = Ros(ros_node)
    yield harness
    harness.waits.destroy()


@pytest.fixture(scope='module')
def semantic_map():
    return SemanticMap.load(CONFIG / 'locations.yaml')


def skills_doc():
    with open(CONFIG / 'skills.yaml', encoding='utf-8') as f:
        return yaml.safe_load(f)


class Robot:
    """sim_robot with unique server and topic names, and the runners aimed at it."""

    def __init__(self, ros, semantic_map, processes, fail=(), timeouts=None, server_timeout=3.0,
                 pose_max_age=2.0):
        doc = skills_doc()
        params = {}
        for skill in doc['skills']:
            run = skill.get('run') or {}
            if run.get('kind') == 'action':
                name = unique(run['server'])
                params[SERVER_KEYS[run['server']] + '_action_name'] = name
                run['server'] = name
                if timeouts and skill['name'] in timeouts:
                    run['timeout'] = timeouts[skill['name']]
        self.catalog = SkillCatalog.from_dict(doc)
        self.pose_topic = unique('amcl_pose')
        params['pose_topic'] = self.pose_topic
        if fail:
            params['fail'] = list(fail)
        self.sim = processes.start('llm_planner.sim.sim_robot', params,
                                   node_name=unique('sim_robot'), name='sim')
        self.sim.wait_for_output('READY', 30.0)
        self.ros = ros
        self.latest = LatestPose(ros_clock_seconds(ros.node))
        self.subscription = subscribe_pose(ros.node, self.pose_topic, self.latest, ros.group)
        self.actions = ActionRunner(ros.node, self.catalog, ros.waits, server_timeout, ros.group)
        self.runners = {
            'map': MapRunner(semantic_map),
            'pose_topic': PoseTopicRunner(self.latest, pose_max_age, self.pose_topic),
            'action': self.actions,
        }
        self.events = []

    def execute(self, program, cancel=None, timeout=90.0):
        executor = PlanExecutor(self.catalog, self.runners,
                                progress=lambda *a: self.events.append(a))
        return self.ros.run(executor.execute(parse_program(program), cancel), timeout)

    def goals(self, server):
        """Return the sim's one-line goal summaries of ``server`` ('navigate', ...)."""
        name = self.actions.bindings[{'navigate': 'GO', 'search': 'SEARCH',
                                      'grab': 'GRAB'}[server]].server
        return [line for line in self.sim.output().splitlines() if f'GOAL {name} ' in line]

    def close(self):
        self.actions.destroy()
        self.ros.node.destroy_subscription(self.subscription)
        return self.sim.stop()


@pytest.fixture
def robot(ros, semantic_map, ros_processes):
    made = []

    def make(**kwargs):
        r = Robot(ros, semantic_map, ros_processes, **kwargs)
        made.append(r)
        # The pose must be flowing first (unless the test breaks it).
        if not any(f.startswith('pose:') for f in kwargs.get('fail', ())):
            assert wait_until(lambda: r.latest.get()[0] is not None, 10.0)
        return r
    yield make
    for r in made:
        r.close()


def test_fetch_and_come_back(robot):
    r = robot()
    result = r.execute(FETCH)
    assert result.success, result.message
    assert result.steps_done == 6
    banana = result.values['$banana']
    assert banana.frame == 'map' and banana.x == pytest.approx(3.2, abs=0.01)
    assert banana.y == pytest.approx(1.1, abs=0.01)
    assert result.values['$start'] == Pose('map', 0.0, 0.0, 0.0)
    assert [e[3] for e in r.events] == ['running', 'succeeded'] * 6
    assert len(r.goals('navigate')) == 2 and len(r.goals('grab')) == 1
    # The GRAB goal names what SEARCH found (binding object_name: $where.object_name).
    assert "object='banana'" in r.goals('grab')[0], r.goals('grab')
    # The robot is back where it started.
    assert wait_until(lambda: r.latest.get()[0] is not None and abs(r.latest.get()[0].x) < 0.05,
                      5.0)


def test_server_absent(robot):
    r = robot(fail=['navigate:offline'], server_timeout=1.0)
    start = time.monotonic()
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.SERVER_UNAVAILABLE, 2)
    assert 'not available after 1 s' in result.message
    assert time.monotonic() - start < 10.0
    assert r.goals('search') == []


def test_goal_rejected(robot):
    r = robot(fail=['navigate:reject'])
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.GOAL_REJECTED, 2)
    assert r.goals('search') == []


def test_goal_aborted_reports_the_server_error(robot):
    r = robot(fail=['navigate:abort:TIMEOUT:no path to the goal'])
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.STEP_FAILED, 2)
    assert '9003' in result.message and 'no path to the goal' in result.message
    assert r.goals('search') == []


def test_object_not_found(robot):
    r = robot(fail=['search:absent:banana'])
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.OBJECT_NOT_FOUND, 3)
    assert 'banana' in result.message
    assert r.goals('grab') == []


def test_step_timeout_cancels_the_goal(robot):
    r = robot(fail=['navigate:slow:20'], timeouts={'GO': 1.5})
    start = time.monotonic()
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.TIMEOUT, 2)
    assert 'cancel requested' in result.message
    assert time.monotonic() - start < 12.0
    assert wait_until(lambda: any('CANCELED' in g for g in r.goals('navigate')), 5.0), \
        r.sim.output()
    assert r.goals('search') == []


def test_caller_cancel_stops_the_goal_and_sends_no_further_step(robot):
    r = robot(fail=['navigate:slow:20'])
    token = CancelToken()
    timer = threading.Timer(2.0, token.cancel)
    timer.start()
    start = time.monotonic()
    result = r.execute(FETCH, cancel=token)
    timer.join()
    assert (result.error_code, result.failed_step) == (ErrorCode.CANCELED, 2)
    assert time.monotonic() - start < 8.0
    # The runner waited for the server to end the goal before returning.
    assert any('CANCELED' in g for g in r.goals('navigate')), r.sim.output()
    assert r.goals('search') == []
    assert r.events[-1][3] == 'canceled'


def test_server_dies_mid_goal(robot):
    r = robot(fail=['navigate:die_after:0.5'], timeouts={'GO': 60.0})
    result = r.execute(FETCH, timeout=70.0)
    assert r.sim.wait_for_exit(5) == 17
    # Detected when the server leaves the graph (DDS liveliness: the lease,
    # 5 s in the tests' Fast DDS profile, support/dds.py), or at the latest
    # by the step timeout.
    assert result.failed_step == 2
    assert result.error_code in (ErrorCode.SERVER_UNAVAILABLE, ErrorCode.TIMEOUT)


def test_stale_pose(robot):
    r = robot(fail=['pose:stale:30'])
    assert wait_until(lambda: r.latest.get()[0] is not None, 10.0)
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.POSE_UNAVAILABLE, 0)
    assert 'old' in result.message
    assert r.goals('navigate') == []


def test_no_pose(robot):
    r = robot(fail=['pose:silent'])
    result = r.execute(FETCH)
    assert (result.error_code, result.failed_step) == (ErrorCode.POSE_UNAVAILABLE, 0)
    assert 'no robot pose' in result.message


# --- waits -------------------------------------------------------------------

def test_waits_timeout_done_and_cancel(ros):
    start = time.monotonic()
    assert ros.run(ros.waits.wait([Future()], 0.3)) == TIMEOUT
    assert 0.25 < time.monotonic() - start < 1.0

    done = Future()
    threading.Timer(0.2, lambda: done.set_result(1)).start()
    start = time.monotonic()
    assert ros.run(ros.waits.wait([done], 5.0)) == DONE
    assert time.monotonic() - start < 1.0

    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()  # from a foreign thread
    start = time.monotonic()
    assert ros.run(ros.waits.wait([Future()], 5.0, token)) == CANCELED
    assert time.monotonic() - start < 1.0

    flag = []
    threading.Timer(0.2, lambda: flag.append(1)).start()
    assert ros.run(ros.waits.until(lambda: bool(flag), 5.0)) == DONE
    assert ros.run(ros.waits.until(lambda: False, 0.2)) == TIMEOUT


def test_many_concurrent_waits_do_not_hold_threads(ros):
    """Twenty waits at once on a 4-thread executor: coroutines, not blocked threads."""
    async def many():
        futures = [Future() for _ in range(20)]
        tasks = [ros.executor.create_task(ros.waits.wait([f], 5.0)) for f in futures]
        for f in futures:
            f.set_result(None)
        for t in tasks:
            await t
        return [t.result() for t in tasks]
    assert ros.run(many(), 10.0) == [DONE] * 20


# --- bindings and conversions ------------------------------------------------

def test_yaw_quaternion_round_trip():
    for yaw in (0.0, 0.5, -1.57, 3.1, -3.1):
        assert quaternion_to_yaw(*yaw_to_quaternion(yaw)) == pytest.approx(yaw)
    pose = Pose('map', 1.0, -2.0, 1.2)
    msg = pose_to_stamped(pose)
    assert msg.header.frame_id == 'map'
    back = msg_to_pose(msg)
    assert back.frame == 'map' and back.x == 1.0 and back.y == -2.0
    assert back.yaw == pytest.approx(1.2)
    assert math.isclose(msg.pose.orientation.w ** 2 + msg.pose.orientation.z ** 2, 1.0)


def test_shipped_catalog_bindings():
    catalog = SkillCatalog.load(CONFIG / 'skills.yaml')
    bindings = action_bindings(catalog)
    assert sorted(bindings) == ['GO', 'GRAB', 'SEARCH']
    go = bindings['GO'].make_goal({'to': Pose('map', 3.0, 1.0, 0.0)})
    assert go.pose.header.frame_id == 'map' and go.pose.pose.position.x == 3.0
    search = bindings['SEARCH'].make_goal({'object_name': 'banana'})
    assert search.object_name == 'banana'
    assert bindings['SEARCH'].failure_code == ErrorCode.OBJECT_NOT_FOUND
    where = Pose('map', 3.2, 1.1, 0.0)
    grab = bindings['GRAB'].make_goal({'where': where},
                                      sources={'where': {'object_name': 'banana'}})
    assert grab.object_name == 'banana' and grab.where.pose.position.x == 3.2
    # $where from a call without object_name (GET_LOCATION): nothing to name.
    grab = bindings['GRAB'].make_goal({'where': where},
                                      sources={'where': {'location_name': 'kitchen'}})
    assert grab.object_name == ''


def _binding(run, args=(), returns=''):
    skill = {'name': 'X', 'description': 'x', 'args': list(args), 'run': run}
    if returns:
        skill['returns'] = returns
    catalog = SkillCatalog.from_dict({'skills': [skill]})
    return ActionBinding(catalog.get('X'))


NAV = {'kind': 'action', 'type': 'llm_planner_interfaces/action/Navigate',
       'server': 'navigate_to_pose', 'goal': {'pose': '$to'}}
TO = {'name': 'to', 'type': 'LOCATION'}


@pytest.mark.parametrize('change, args, returns, message', [
    ({'type': 'os/action/System'}, [TO], '', 'cannot import'),
    ({'type': 'llm_planner_interfaces/msg/PlanStep'}, [TO], '', 'pkg/action/Name'),
    ({'type': 'llm_planner_interfaces/action/Nope'}, [TO], '', 'not an action type'),
    ({'server': ''}, [TO], '', 'server'),
    ({'goal': {'target': '$to'}}, [TO], '', 'no field'),
    ({'goal': {'pose': '$where'}}, [TO], '', 'not an argument'),
    ({'goal': {'behavior_tree': '$to'}}, [TO], '', 'PoseStamped'),
    ({'goal': {'pose': '$to', 'behavior_tree': 3}}, [TO], '', 'cannot set'),
    ({'success': {'field': 'found', 'equals': True}}, [TO], '', 'no field'),
    ({'failure_code': 'OOPS'}, [TO], '', 'not an error code'),
    ({}, [TO], 'LOCATION', 'name the Result field'),
    ({'result': 'error_msg'}, [TO], 'LOCATION', 'not a pose'),
    ({'goal': {'pose': '$to', 'behavior_tree': '$from.object_name'}}, [TO], '',
     'not a LOCATION argument'),
    ({'goal': {'pose': '$to', 'behavior_tree': '$to.Object-Name'}}, [TO], '',
     'not an argument name'),
    ({'goal': {'pose': '$to.object_name'}}, [TO], '', 'needs a string field'),
])
def test_bad_bindings_are_refused(change, args, returns, message):
    run = copy.deepcopy(NAV)
    run.update(change)
    with pytest.raises(BindingError, match=message):
        _binding(run, args, returns)


def test_constant_goal_fields():
    run = dict(NAV, goal={'pose': {'header': {'frame_id': 'map'},
                                   'pose': {'position': {'x': 1.5}}},
                          'behavior_tree': 'bt.xml'})
    goal = _binding(run).make_goal({})
    assert goal.pose.header.frame_id == 'map' and goal.pose.pose.position.x == 1.5
    assert goal.behavior_tree == 'bt.xml'


def test_load_action_type_only_takes_action_names():
    assert load_action_type('llm_planner_interfaces/action/Navigate').__name__ == 'Navigate'
    for bad in ('', 'Navigate', '../x/action/Y', 'os.path/action/X', 'a/action/b', None):
        with pytest.raises(BindingError):
            load_action_type(bad)
