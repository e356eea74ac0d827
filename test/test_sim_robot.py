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
sim_robot in its own process, driven over DDS by this process as a client.

Each scenario runs one sim_robot process in its own namespace; the scenario's
tests share it (module-scoped fixtures, started on first use).
"""

import math
import time

from action_msgs.msg import GoalStatus
from geometry_msgs.msg import PoseStamped, PoseWithCovarianceStamped
from llm_planner.core.geometry import quaternion_to_yaw, yaw_to_quaternion
from llm_planner.sim.world import DIE_EXIT_CODE
from llm_planner_interfaces.action import GrabObject, Navigate, SearchObject
import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.time import Time

# Fast sim: short goals take a fraction of a second.
FAST = {'speed': 5.0, 'search_seconds': 0.2, 'grab_seconds': 0.2, 'feedback_rate': 20.0}
KITCHEN = (3.0, 1.0)
BANANA = (3.2, 1.1)
CUP = (0.3, 0.0)


class Sim:
    """A running sim_robot and clients for its servers and pose topic."""

    def __init__(self, process, ros_node, namespace):
        self.process = process
        self.ros = ros_node
        self.ns = namespace
        self.navigate = ros_node.action_client(Navigate, f'{namespace}/navigate_to_pose')
        self.search = ros_node.action_client(SearchObject, f'{namespace}/search_object')
        self.grab = ros_node.action_client(GrabObject, f'{namespace}/grab_object')
        self.pose_topic = f'{namespace}/amcl_pose'
        self.poses = ros_node.subscribe(PoseWithCovarianceStamped, self.pose_topic)

    def wait_ready(self, servers=('navigate', 'search', 'grab'), timeout=15.0):
        self.process.wait_for_output(r'READY', timeout)
        for name in servers:
            assert self.ros.wait_for_action_server(getattr(self, name), timeout), name

    def go(self, x, y, yaw=0.0, timeout=10.0, frame='map'):
        return self.ros.run_goal(self.navigate, navigate_goal(x, y, yaw, frame), timeout)

    def find(self, name, timeout=10.0):
        goal = SearchObject.Goal()
        goal.object_name = name
        return self.ros.run_goal(self.search, goal, timeout)

    def take(self, x, y, name='', timeout=10.0):
        goal = GrabObject.Goal()
        goal.where = pose_stamped(x, y)
        goal.object_name = name
        return self.ros.run_goal(self.grab, goal, timeout)


def pose_stamped(x, y, yaw=0.0, frame='map'):
    msg = PoseStamped()
    msg.header.frame_id = frame
    msg.pose.position.x = float(x)
    msg.pose.position.y = float(y)
    (msg.pose.orientation.x, msg.pose.orientation.y,
     msg.pose.orientation.z, msg.pose.orientation.w) = yaw_to_quaternion(yaw)
    return msg


def navigate_goal(x, y, yaw=0.0, frame='map'):
    goal = Navigate.Goal()
    goal.pose = pose_stamped(x, y, yaw, frame)
    return goal


def xy(pose):
    return (pose.position.x, pose.position.y)


def yaw_of(pose):
    o = pose.orientation
    return quaternion_to_yaw(o.x, o.y, o.z, o.w)


def near(a, b, tolerance=0.05):
    return math.dist(a, b) <= tolerance


def start_sim(processes, ros_node, namespace, params=None, servers=None, **kwargs):
    process = processes.start(
        'llm_planner.sim.sim_robot', params={**FAST, **(params or {})}, namespace=namespace,
        **kwargs)
    sim = Sim(process, ros_node, namespace)
    if servers is None:
        sim.wait_ready()
    else:
        sim.wait_ready(servers)
    return sim


# Normal behaviour ------------------------------------------------------------------

@pytest.fixture(scope='module')
def sim(module_ros_processes, ros_node):
    return start_sim(module_ros_processes, ros_node, '/sim_ok')


def next_pose(sim, count=1, timeout=5.0):
    """Return the ``count``-th pose message published from now on."""
    seen = len(sim.poses.messages)
    messages = sim.poses.wait_for(seen + count, timeout)
    assert messages is not None, f'no {count} new pose message(s) in {timeout} s'
    return messages[seen + count - 1]


def test_navigate_succeeds_with_feedback_and_pose(sim):
    run = sim.go(2.0, 1.0, 0.5)
    assert run.accepted
    assert run.status == GoalStatus.STATUS_SUCCEEDED, run.status_name
    assert run.result.error_code == Navigate.Result.NONE
    distances = [f.distance_remaining for f in run.feedback]
    assert len(distances) >= 3, distances
    assert all(b <= a + 1e-6 for a, b in zip(distances, distances[1:])), distances
    assert distances[-1] < distances[0]
    assert distances[-1] == pytest.approx(0.0, abs=1e-3)
    assert near(xy(run.feedback[-1].current_pose.pose), (2.0, 1.0))
    assert run.feedback[-1].current_pose.header.frame_id == 'map'
    # The pose topic ends at the goal, in the map frame, with the goal's yaw
    # (on the way, the robot faces where it goes).
    assert sim.poses.wait_for(predicate=lambda m: near(xy(m.pose.pose), (2.0, 1.0), 1e-6)
                              and abs(yaw_of(m.pose.pose) - 0.5) < 1e-6, timeout=3.0)
    last = next_pose(sim)  # and stays there
    assert last.header.frame_id == 'map'
    assert near(xy(last.pose.pose), (2.0, 1.0), 1e-6)
    assert yaw_of(last.pose.pose) == pytest.approx(0.5, abs=1e-6)
    sim.process.wait_for_output(
        r'GOAL navigate_to_pose pose=\(2\.00, 1\.00, 0\.50\) in map -> SUCCEEDED')


def test_navigate_cancel_midway(sim):
    feedback = []
    goal_handle = sim.ros.send_goal(
        sim.navigate, navigate_goal(-20.0, 0.0), feedback_callback=feedback.append)
    assert goal_handle.accepted
    assert sim.ros.wait_for(lambda: len(feedback) >= 1, timeout=3.0)
    first = feedback[0].feedback.distance_remaining
    assert sim.ros.wait_for(
        lambda: feedback[-1].feedback.distance_remaining < first - 0.3, timeout=3.0)
    sim.ros.wait_future(goal_handle.cancel_goal_async(), 5.0)
    status, _ = sim.ros.get_result(goal_handle, 5.0)
    assert status == GoalStatus.STATUS_CANCELED
    stopped = xy(next_pose(sim, 2).pose.pose)  # published after the cancel ended the goal
    assert not near(stopped, (-20.0, 0.0), 1.0), 'the robot stopped before the goal'
    assert near(xy(next_pose(sim, 3).pose.pose), stopped, 1e-6), 'the robot stays put'
    sim.process.wait_for_output(r'GOAL navigate_to_pose pose=\(-20\.00, 0\.00.*-> CANCELED')


def test_new_navigate_goal_preempts_running_one(sim):
    feedback = []
    first = sim.ros.send_goal(sim.navigate, navigate_goal(20.0, 0.0),
                              feedback_callback=feedback.append)
    assert first.accepted
    assert sim.ros.wait_for(lambda: feedback, timeout=3.0)  # it runs
    second = sim.go(0.0, 0.0)
    assert second.status == GoalStatus.STATUS_SUCCEEDED
    status, result = sim.ros.get_result(first, 5.0)
    assert status == GoalStatus.STATUS_ABORTED
    assert 'preempted' in result.error_msg


def test_navigate_rejects_bad_goals(sim):
    assert not sim.go(1.0, 1.0, frame='odom').accepted
    goal = navigate_goal(1.0, 1.0)
    goal.pose.pose.position.x = math.nan
    assert not sim.ros.send_goal(sim.navigate, goal).accepted
    goal = navigate_goal(1.0, 1.0)
    goal.pose.pose.orientation.w = 0.0
    assert not sim.ros.send_goal(sim.navigate, goal).accepted
    sim.process.wait_for_output(r'GOAL navigate_to_pose pose=\(1\.00, 1\.00.*-> REJECTED')


def test_search_finds_present_object_near_robot(sim):
    assert sim.go(*KITCHEN).status == GoalStatus.STATUS_SUCCEEDED
    run = sim.find('banana')
    assert run.status == GoalStatus.STATUS_SUCCEEDED
    assert run.result.found, run.result.message
    assert run.result.pose.header.frame_id == 'map'
    assert near(xy(run.result.pose.pose), BANANA, 1e-6)
    assert any('banana' in f.status for f in run.feedback)
    sim.process.wait_for_output(r"GOAL search_object object='banana' -> SUCCEEDED found at")


def test_search_absent_or_far_object_not_found(sim):
    assert sim.go(*KITCHEN).status == GoalStatus.STATUS_SUCCEEDED
    for name in ('unicorn', 'book'):  # not in the world; in the office, out of sight
        run = sim.find(name)
        assert run.status == GoalStatus.STATUS_SUCCEEDED
        assert not run.result.found
        assert name in run.result.message and 'not found' in run.result.message
    assert not sim.ros.send_goal(sim.search, SearchObject.Goal()).accepted, 'empty name'


def test_grab_at_object_pose_succeeds_and_fails_elsewhere(sim):
    assert sim.go(*KITCHEN).status == GoalStatus.STATUS_SUCCEEDED
    found = sim.find('banana').result
    assert found.found
    goal = GrabObject.Goal()
    goal.where = found.pose
    goal.object_name = 'banana'
    run = sim.ros.run_goal(sim.grab, goal)
    assert run.status == GoalStatus.STATUS_SUCCEEDED
    assert run.result.success and 'banana' in run.result.message
    # Within arm reach, but nothing there.
    run = sim.take(KITCHEN[0], KITCHEN[1] + 1.2, 'banana')
    assert run.status == GoalStatus.STATUS_ABORTED
    assert not run.result.success and 'no banana' in run.result.message
    # Far from the robot.
    run = sim.take(-2.0, 3.0, 'phone')
    assert run.status == GoalStatus.STATUS_ABORTED
    assert not run.result.success and 'arm reach' in run.result.message
    sim.process.wait_for_output(r"GOAL grab_object object='banana' where=.* -> SUCCEEDED")
    # A manipulation server must be told what to pick: no name, no goal.
    assert not sim.take(*KITCHEN).accepted
    sim.process.wait_for_output(r"GOAL grab_object object='' .*empty object_name")


def test_sim_exits_cleanly_on_sigint(sim):
    assert sim.process.stop(timeout=5.0) == 0, sim.process.tail()


# Failure injection -------------------------------------------------------------------

@pytest.fixture(scope='module')
def sim_rejecting(module_ros_processes, ros_node):
    """Navigate rejects, banana absent, grab aborts, pose 30 s stale, search sees anywhere."""
    return start_sim(module_ros_processes, ros_node, '/sim_reject', params={
        'search_radius': math.inf,
        'fail': ['navigate:reject', 'search:absent:banana', 'grab:abort:gripper jammed',
                 'pose:stale:30.0']})


def test_injected_reject(sim_rejecting):
    assert not sim_rejecting.go(1.0, 0.0).accepted
    sim_rejecting.process.wait_for_output(r'-> REJECTED \(injected failure navigate:reject\)')


def test_injected_absent_object(sim_rejecting):
    run = sim_rejecting.find('banana')
    assert run.status == GoalStatus.STATUS_SUCCEEDED
    assert not run.result.found and 'banana not found' in run.result.message
    run = sim_rejecting.find('apple')
    assert run.result.found, 'other objects are still there'


def test_injected_grab_abort(sim_rejecting):
    run = sim_rejecting.take(*CUP, 'cup')
    assert run.status == GoalStatus.STATUS_ABORTED
    assert not run.result.success and run.result.message == 'gripper jammed'


def test_injected_stale_pose(sim_rejecting):
    messages = sim_rejecting.poses.wait_for(2, timeout=5.0)
    assert messages
    now = sim_rejecting.ros.node.get_clock().now()
    age = (now - Time.from_msg(messages[-1].header.stamp)).nanoseconds / 1e9
    assert 29.0 <= age <= 35.0


@pytest.fixture(scope='module')
def sim_aborting(module_ros_processes, ros_node):
    """Navigate aborts with TIMEOUT, search offline, grab 4x slower, pose silent."""
    return start_sim(module_ros_processes, ros_node, '/sim_abort', params={
        'fail': ['navigate:abort:TIMEOUT:planner timed out', 'search:offline', 'grab:slow:4.0',
                 'pose:silent']}, servers=('navigate', 'grab'))


def test_injected_navigate_abort_with_error_code(sim_aborting):
    run = sim_aborting.go(1.0, 0.0)
    assert run.accepted
    assert run.status == GoalStatus.STATUS_ABORTED, run.status_name
    assert run.result.error_code == Navigate.Result.TIMEOUT == 9003
    assert run.result.error_msg == 'planner timed out'
    sim_aborting.process.wait_for_output(r'-> ABORTED error_code=9003 \(planner timed out\)')


def test_injected_offline_server(sim_aborting):
    # The other servers of the same process are discovered, this one never is.
    assert not sim_aborting.ros.wait_for_action_server(sim_aborting.search, timeout=1.5)


def test_injected_silent_pose(sim_aborting):
    assert sim_aborting.ros.wait_for_publisher(sim_aborting.pose_topic, timeout=5.0)
    assert sim_aborting.poses.wait_for(1, timeout=1.5) is None


def test_injected_slow_grab(sim_aborting):
    started = time.monotonic()
    run = sim_aborting.take(*CUP, 'cup')
    elapsed = time.monotonic() - started
    assert run.status == GoalStatus.STATUS_SUCCEEDED and run.result.success
    assert elapsed >= 0.75, elapsed  # 0.2 s x 4


@pytest.fixture(scope='module')
def sim_runtime(module_ros_processes, ros_node):
    """No failure at start; changed at run time through the `fail` parameter."""
    return start_sim(module_ros_processes, ros_node, '/sim_runtime', params={
        'fail': ['navigate:slow:4.0', 'search:delay:0.5', 'search:abort:camera off']})


def set_fail(sim, specs):
    if not hasattr(sim, 'set_parameters'):
        sim.set_parameters = sim.ros.service_client(
            SetParameters, f'{sim.ns}/sim_robot/set_parameters')
    client = sim.set_parameters
    request = SetParameters.Request()
    request.parameters = [Parameter(name='fail', value=ParameterValue(
        type=ParameterType.PARAMETER_STRING_ARRAY, string_array_value=specs))]
    return sim.ros.call_service(client, request).results[0]


def test_injected_slow_navigate(sim_runtime):
    started = time.monotonic()
    run = sim_runtime.go(1.0, 0.0)  # 1 m at 5 m/s / 4
    elapsed = time.monotonic() - started
    assert run.status == GoalStatus.STATUS_SUCCEEDED
    assert 0.75 <= elapsed <= 3.0, elapsed


def test_injected_search_delay_and_abort(sim_runtime):
    started = time.monotonic()
    run = sim_runtime.find('cup')
    assert time.monotonic() - started >= 0.45
    assert run.status == GoalStatus.STATUS_ABORTED
    assert not run.result.found and run.result.message == 'camera off'


def test_fail_parameter_changes_at_run_time(sim_runtime):
    assert set_fail(sim_runtime, ['navigate:reject']).successful
    assert not sim_runtime.go(0.0, 0.0).accepted
    result = set_fail(sim_runtime, ['navigate:explode'])
    assert not result.successful and 'explode' in result.reason
    result = set_fail(sim_runtime, ['grab:offline'])
    assert not result.successful and 'start-up' in result.reason
    assert set_fail(sim_runtime, []).successful
    assert sim_runtime.go(0.0, 0.0).status == GoalStatus.STATUS_SUCCEEDED
    assert sim_runtime.find('cup').result.found


def test_yaml_failures_cleared_then_die_mid_goal(ros_processes, ros_node, tmp_path):
    world = tmp_path / 'world.yaml'
    world.write_text(
        'robot: {x: 0.0, y: 0.0}\n'
        'failures: ["pose:silent", "navigate:reject", "grab:offline"]\n')
    process = ros_processes.start('llm_planner.sim.sim_robot', namespace='/sim_die', params={
        **FAST, 'world_file': str(world), 'fail': ['clear', 'navigate:die_after:0.5']})
    sim = Sim(process, ros_node, '/sim_die')
    sim.wait_ready()  # grab:offline was cleared too
    assert sim.poses.wait_for(1, timeout=5.0), 'pose:silent was cleared'
    goal_handle = sim.ros.send_goal(sim.navigate, navigate_goal(20.0, 0.0))
    assert goal_handle.accepted, 'navigate:reject was cleared'
    result = goal_handle.get_result_async()
    assert process.wait_for_exit(timeout=5.0) == DIE_EXIT_CODE, process.tail()
    assert 'navigate:die_after:0.5: the process exits now' in process.output()
    assert not result.done(), 'a dead server sends no result'
    last = sim.poses.last.pose.pose.position
    assert 0.5 < last.x < 20.0, 'it died on its way'


def test_bad_failure_spec_stops_start_up(ros_processes):
    process = ros_processes.start(
        'llm_planner.sim.sim_robot', namespace='/sim_bad', params={'fail': ['navigate:explode']})
    assert process.wait_for_exit(timeout=10.0) == 2
    assert "unknown kind 'explode'" in process.output()
