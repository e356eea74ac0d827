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
planner_node under a hostile caller and a faulty robot (issue 12), across processes.

Each test starts planner_node (tiny model, see test_node.py) and, where a
robot is needed, sim_robot in processes of their own and talks to them over
DDS: invalid lifecycle transitions, request bursts, a crashing repack, a stop
mid-task, a dead action server, bad poses, memory over lifecycle cycles,
requests during the load, parameter bounds, bad task text, pose QoS.
"""

import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time

from action_msgs.msg import GoalStatus
from geometry_msgs.msg import PoseWithCovarianceStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from llm_planner.core.errors import ErrorCode
from llm_planner.ros.action_runner import SafeActionClient
from llm_planner_interfaces.action import ExecuteTask
from llm_planner_interfaces.srv import Plan
import pytest
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy
from std_msgs.msg import String
from support.ros_utils import unique, wait_until
# Fixtures and helpers of test_node.py (imported fixtures are used by name).
from test_node import (  # noqa: F401
    _wait_running, NAVIGATE_RUN, patrol_model, PlannerProc, ros, start_sim, workdir,
    write_catalog)

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
POSE_RUN = {'kind': 'pose_topic'}
# Readers of this process that the node discovers before the plan client's
# response reader (test_requests_during_the_load_get_not_active_at_once).
CROWD_READERS = 1500


def rss_mib(pid):
    """Return the resident memory of a process, MiB, from /proc/PID/status."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise AssertionError('no VmRSS')


def warnings_of(proc):
    return [line for line in proc.output().splitlines() if '[WARN]' in line]


@pytest.fixture(scope='module')
def planner(ros, module_ros_processes, tiny_gguf):  # noqa: F811 (ros: a fixture)
    node = PlannerProc(ros, module_ros_processes, [f'model_path:={tiny_gguf}'], 'planner')
    assert node.wait_ready() == 'active: ready', node.proc.output()
    yield node
    node.close()


# --- 1. lifecycle transitions ---------------------------------------------------

def test_invalid_transition_id_is_refused_and_the_node_keeps_serving(planner):
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_CLEANUP,
                       Transition.TRANSITION_ACTIVATE, 99):
        assert planner.transition(transition) is False, transition
        assert planner.proc.is_running(), planner.proc.output()
    request = ChangeState.Request()
    request.transition.label = 'configure'
    assert planner.call(planner.lifecycle_client, request, 30.0).success is False
    refused = [w for w in warnings_of(planner.proc) if 'change_state' in w]
    assert any('transition id 1 refused in state active' in w for w in refused), refused
    response = planner.plan('')
    assert response.error_code == ErrorCode.INVALID_TASK
    # Valid transitions still work.
    assert planner.transition(Transition.TRANSITION_DEACTIVATE)
    assert planner.transition(Transition.TRANSITION_ACTIVATE)
    assert planner.plan('').error_code == ErrorCode.INVALID_TASK


# --- 9. parameters are bounded when set ---------------------------------------------

def test_out_of_range_parameters_are_refused_when_set(planner):
    cases = (('planning_timeout', math.inf), ('http_read_timeout', math.nan),
             ('n_ctx', 2 ** 40), ('max_task_chars', 10 ** 9), ('n_threads', 100000),
             ('max_tokens', 10 ** 7), ('n_gpu_layers', 10 ** 9), ('decode_batch', 10 ** 6),
             ('num_examples', 10 ** 6), ('max_steps', 10 ** 6),
             ('pose_topic', 'not a topic'), ('pose_topic', 'a//b'), ('pose_topic', '9lives'),
             ('server_timeout', math.inf), ('step_timeout', math.nan),
             ('pose_max_age', math.inf), ('service_queue_depth', 0),
             ('max_pending_plans', 10 ** 9), ('pose_frame', 'odom frame'),
             ('pose_qos_reliability', 'sometimes'), ('pose_qos_durability', 'forever'))
    for name, value in cases:
        result = planner.set_param(name, value)
        assert not result.successful, (name, value)
        assert name in result.reason, (name, result.reason)
    for name, value in (('planning_timeout', 30.0), ('pose_topic', 'robot/pose'),
                        ('server_timeout', 2.0), ('max_pending_plans', 50),
                        ('pose_frame', 'map')):
        assert planner.set_param(name, value).successful, name
    assert planner.proc.is_running()
    assert planner.plan('').error_code == ErrorCode.INVALID_TASK


# --- 2. bursts of requests ----------------------------------------------------------------

def _client_qos():
    """
    Return the QoS of the test's goal, result and cancel clients: depth 100.

    With Fast DDS every client of a service receives every response and keeps
    its own: at the default depth (10) a client among 20 concurrent ones may
    lose its response under the others' (a property of the caller's side).
    """
    from rclpy.qos import qos_profile_services_default
    qos = QoSProfile(depth=100)
    qos.reliability = qos_profile_services_default.reliability
    qos.durability = qos_profile_services_default.durability
    return qos


def _warm_up(send, tries=10, timeout=3.0):
    """
    Send a request that is refused at once (empty task) until one is answered.

    Discovery is not symmetric: a client may see the node before the node has
    matched the client's response reader, and Fast DDS drops a response it
    cannot deliver. One answered request per client proves both directions,
    so that a burst afterwards tests the node's queues, not discovery.
    """
    for _ in range(tries):
        future = send()
        event = threading.Event()
        future.add_done_callback(lambda _: event.set())
        if event.wait(timeout):
            return future.result()
    pytest.fail(f'no answer to a warm-up request in {tries} tries')


def _burst_plan(harness, service, count, task):
    """Call ``service`` from ``count`` clients at once; return the responses (None: lost)."""
    clients = [harness.node.create_client(Plan, service,
                                          callback_group=harness.callback_group)
               for _ in range(count)]
    try:
        assert wait_until(lambda: all(c.service_is_ready() for c in clients), 30.0)
        for client in clients:
            _warm_up(lambda: client.call_async(Plan.Request(task='', dry_run=True)))
        events = [threading.Event() for _ in clients]
        futures = []
        for client, event in zip(clients, events):
            future = client.call_async(Plan.Request(task=task, dry_run=True))
            future.add_done_callback(lambda _, e=event: e.set())
            futures.append(future)
        deadline = time.monotonic() + 240.0
        for event in events:
            event.wait(max(0.0, deadline - time.monotonic()))
        return [f.result() if f.done() else None for f in futures]
    finally:
        for client in clients:
            harness.node.destroy_client(client)


def test_a_burst_of_50_plan_requests_is_all_answered(planner):
    responses = _burst_plan(planner.ros, f'{planner.fqn}/plan', 50, 'go to the office')
    lost = sum(1 for r in responses if r is None)
    assert lost == 0, f'{lost} of 50 requests got no answer'
    for r in responses:
        assert r.success or r.error_code in (ErrorCode.UNKNOWN_LOCATION,
                                             ErrorCode.UNSUPPORTED_TASK,
                                             ErrorCode.INVALID_PLAN), r


def test_past_max_pending_plans_the_answer_is_busy_at_once(planner):
    assert planner.set_param('max_pending_plans', 2).successful
    try:
        responses = _burst_plan(planner.ros, f'{planner.fqn}/plan', 12, 'go to the office')
    finally:
        assert planner.set_param('max_pending_plans', 100).successful
    assert all(r is not None for r in responses)
    busy = [r for r in responses if r.error_code == ErrorCode.BUSY]
    assert busy and all('max_pending_plans 2' in r.message for r in busy), responses
    assert len(busy) < len(responses)


def test_20_concurrent_goals_are_all_answered(ros, ros_processes, workdir,  # noqa: F811
                                              patrol_model):  # noqa: F811
    server = unique('navigate')
    start_sim(ros_processes, navigate_action_name=server, pose_topic=unique('pose'),
              fail=['navigate:delay:1'])
    catalog = write_catalog(workdir / 'burst.yaml', NAVIGATE_RUN, '/' + server)
    node = PlannerProc(ros, ros_processes, [
        f'model_path:={patrol_model}', f'skills_file:={catalog}', 'max_steps:=1'], 'burst')
    clients = []
    try:
        assert node.wait_ready() == 'active: ready', node.proc.output()
        qos = _client_qos()
        clients = [SafeActionClient(ros.node, ExecuteTask, f'{node.fqn}/execute_task',
                                    callback_group=ros.callback_group,
                                    goal_service_qos_profile=qos,
                                    result_service_qos_profile=qos,
                                    cancel_service_qos_profile=qos) for _ in range(20)]
        assert wait_until(lambda: all(c.server_is_ready() for c in clients), 30.0)
        for client in clients:  # an empty task: accepted, then aborted INVALID_TASK
            handle = _warm_up(lambda: client.send_goal_async(ExecuteTask.Goal(task='')))
            assert handle.accepted
            assert ros.wait_future(handle.get_result_async(), 30.0).result.error_code == \
                ErrorCode.INVALID_TASK
        sends = [c.send_goal_async(ExecuteTask.Goal(task='patrol')) for c in clients]
        handles = []
        for future in sends:
            handles.append(ros.wait_future(future, 60.0))  # fails the test when unanswered
        assert all(h.accepted for h in handles)
        results = [ros.wait_future(h.get_result_async(), 120.0) for h in handles]
        codes = [r.result.error_code for r in results]
        assert all(c in ('', ErrorCode.PREEMPTED) for c in codes), codes
        assert '' in codes  # the newest one ran
    finally:
        for client in clients:
            client.destroy()
        node.close()


# --- 3. cpu_repack ------------------------------------------------------------------------

def test_a_crashing_repack_is_probed_in_a_child_and_not_used(ros, ros_processes,  # noqa: F811
                                                             tiny_gguf):
    node = PlannerProc(ros, ros_processes, [f'model_path:={tiny_gguf}', 'cpu_repack:=true'],
                       'repack')
    # The child process of the probe crashes as on AMX CPUs (fault injection).
    node.proc.popen.kill()
    node.proc.popen.wait()
    node.proc = ros_processes.start(
        'llm_planner.ros.planner_node', namespace=node.ns, name='repack',
        env={'LLM_PLANNER_REPACK_PROBE_FAULT': 'segv'},
        ros_args=node.proc.command[node.proc.command.index('--ros-args') + 1:])
    try:
        assert node.wait_ready() == 'active: ready', node.proc.output()
        lines = [w for w in warnings_of(node.proc) if 'cpu_repack' in w]
        assert len(lines) == 1, node.proc.output()
        assert 'SIGSEGV' in lines[0] and 'plain weight layout' in lines[0]
        assert node.plan('').error_code == ErrorCode.INVALID_TASK
        assert node.proc.is_running()
    finally:
        node.close()


# --- 4. a stop mid-task ends the goal -----------------------------------------------------

@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_stopping_mid_task_gives_the_caller_a_shutdown_result(
        ros, ros_processes, workdir, patrol_model, signum):  # noqa: F811
    server = unique('navigate')
    sim = start_sim(ros_processes, navigate_action_name=server, pose_topic=unique('pose'),
                    fail=['navigate:delay:30'])
    catalog = write_catalog(workdir / 'shutdown.yaml', NAVIGATE_RUN, '/' + server)
    node = PlannerProc(ros, ros_processes, [
        f'model_path:={patrol_model}', f'skills_file:={catalog}', 'max_steps:=1'], 'shutdown')
    try:
        assert node.wait_ready() == 'active: ready', node.proc.output()
        feedback = []
        handle = node.send_goal('patrol', feedback)
        result_future = handle.get_result_async()
        assert _wait_running(node, feedback)
        assert _wait_goal_executing(ros, server)
        stopped = time.monotonic()
        os.killpg(node.proc.pid, signum)
        response = ros.wait_future(result_future, 20.0)
        took = time.monotonic() - stopped
        print(f'{signal.Signals(signum).name}: result after {took:.2f} s')
        assert response.status == GoalStatus.STATUS_ABORTED, response
        assert response.result.error_code == ErrorCode.SHUTDOWN, response.result
        assert response.result.failed_step == 0
        assert node.proc.wait_for_exit(15.0) == 0, node.proc.output()
        assert 'Traceback' not in node.proc.output()
        assert wait_until(lambda: f'GOAL {server} ' in sim.output(), 5.0)
        assert 'CANCELED' in sim.output().split(f'GOAL {server} ')[1], sim.output()
    finally:
        node.close()


# --- 5. a dead action server ---------------------------------------------------------------

def test_a_goal_to_a_server_that_just_died_fails_within_server_timeout(
        ros, ros_processes, workdir, patrol_model):  # noqa: F811
    server = unique('navigate')
    sim = start_sim(ros_processes, navigate_action_name=server, pose_topic=unique('pose'))
    catalog = write_catalog(workdir / 'dead.yaml', NAVIGATE_RUN, '/' + server)
    node = PlannerProc(ros, ros_processes, [
        f'model_path:={patrol_model}', f'skills_file:={catalog}', 'max_steps:=1',
        'server_timeout:=2.0'], 'dead')
    try:
        assert node.wait_ready() == 'active: ready', node.proc.output()
        status, result = node.result(node.send_goal('patrol'), 60.0)
        assert status == GoalStatus.STATUS_SUCCEEDED, result  # the server was found
        os.killpg(sim.pid, signal.SIGKILL)  # no goodbye: the graph still lists it
        sim.popen.wait()
        start = time.monotonic()
        status, result = node.result(node.send_goal('patrol'), 90.0)
        took = time.monotonic() - start
        print(f'goal to a dead server: {result.error_code} after {took:.2f} s')
        assert status == GoalStatus.STATUS_ABORTED
        assert result.error_code == ErrorCode.SERVER_UNAVAILABLE, result
        assert 'no answer to the goal request within 2 s' in result.message \
            or 'not available after 2 s' in result.message, result.message
    finally:
        node.close()


def test_a_server_dying_mid_goal_is_noticed_when_its_lease_ends(
        ros, ros_processes, workdir, patrol_model):  # noqa: F811
    server = unique('navigate')
    sim = start_sim(ros_processes, navigate_action_name=server, pose_topic=unique('pose'),
                    fail=['navigate:delay:300'])
    catalog = write_catalog(workdir / 'midgoal.yaml', NAVIGATE_RUN, '/' + server)
    node = PlannerProc(ros, ros_processes, [
        f'model_path:={patrol_model}', f'skills_file:={catalog}', 'max_steps:=1'], 'midgoal')
    try:
        assert node.wait_ready() == 'active: ready', node.proc.output()
        feedback = []
        handle = node.send_goal('patrol', feedback)
        assert _wait_running(node, feedback)
        assert _wait_goal_executing(ros, server)
        os.killpg(sim.pid, signal.SIGKILL)
        start = time.monotonic()
        status, result = node.result(handle, 90.0)
        took = time.monotonic() - start
        print(f'server died mid-goal: {result.error_code} after {took:.2f} s')
        assert status == GoalStatus.STATUS_ABORTED
        assert result.error_code == ErrorCode.SERVER_UNAVAILABLE, result
        assert 'went away' in result.message
    finally:
        node.close()


# --- 6 and 10. the robot pose ---------------------------------------------------------------

def _pose_msg(harness, x=1.0, frame='map', stamp=None):
    msg = PoseWithCovarianceStamped()
    msg.header.frame_id = frame
    msg.header.stamp = stamp if stamp is not None else harness.node.get_clock().now().to_msg()
    msg.pose.pose.position.x = x
    msg.pose.pose.orientation.w = 1.0
    return msg


def _pose_node(ros, processes, workdir, patrol_model, topic, params=()):  # noqa: F811
    catalog = write_catalog(workdir / f'{topic}.yaml', POSE_RUN, '')
    node = PlannerProc(ros, processes, [
        f'model_path:={patrol_model}', f'skills_file:={catalog}', 'max_steps:=1',
        f'pose_topic:=/{topic}', 'pose_max_age:=30.0'] + list(params), topic)
    assert node.wait_ready() == 'active: ready', node.proc.output()
    return node


def _run_with_pose(node, publisher, msg, arrived, timeout=20.0):
    """
    Publish ``msg`` and run the task, until its result shows the node has the pose.

    The pose reaches the node asynchronously (and, best effort, maybe not at
    all; volatile, not before both sides have discovered each other): a goal
    sent meanwhile still sees the previous pose (or none), so ``msg`` is
    published again before each try. ``arrived(status, result)`` tells the
    result of this pose; the last result is returned (this one, or the last
    seen at the deadline, for the caller's asserts to report). ``timeout``
    stays under the node's pose_max_age.
    """
    deadline = time.monotonic() + timeout
    while True:
        publisher.publish(msg)
        status, result = node.result(node.send_goal('patrol'), 60.0)
        if arrived(status, result) or time.monotonic() > deadline:
            return status, result


def _succeeded(status, result):
    return status == GoalStatus.STATUS_SUCCEEDED


def _wait_goal_executing(ros, server, timeout=20.0):  # noqa: F811
    """Wait until the action server ``/server`` reports a goal executing (its status topic)."""
    from action_msgs.msg import GoalStatusArray
    from rclpy.qos import QoSHistoryPolicy
    seen = threading.Event()

    def on_status(msg):
        if any(s.status == GoalStatus.STATUS_EXECUTING for s in msg.status_list):
            seen.set()
    qos = QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=1,
                     reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    sub = ros.node.create_subscription(GoalStatusArray, f'/{server}/_action/status',
                                       on_status, qos)
    try:
        return seen.wait(timeout)
    finally:
        ros.node.destroy_subscription(sub)


def test_bad_poses_are_refused_before_use(ros, ros_processes, workdir,  # noqa: F811
                                          patrol_model):  # noqa: F811
    from builtin_interfaces.msg import Time
    topic = unique('pose')
    node = _pose_node(ros, ros_processes, workdir, patrol_model, topic)
    qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
    publisher = ros.node.create_publisher(PoseWithCovarianceStamped, '/' + topic, qos)
    try:
        assert wait_until(lambda: ros.node.count_subscribers('/' + topic) >= 1, 20.0)
        now = ros.node.get_clock().now().to_msg()
        future = Time(sec=now.sec + 3600, nanosec=now.nanosec)
        for msg, words in ((_pose_msg(ros, x=math.nan), 'not finite'),
                           (_pose_msg(ros, frame='odom'), "frame 'odom'"),
                           (_pose_msg(ros, stamp=Time()), 'zero time stamp'),
                           (_pose_msg(ros, stamp=future), 'in the future')):
            status, result = _run_with_pose(
                node, publisher, msg, lambda status, result, words=words: words in result.message)
            assert status == GoalStatus.STATUS_ABORTED, (words, result)
            assert result.error_code == ErrorCode.POSE_UNAVAILABLE, (words, result)
            assert words in result.message, result.message
        status, result = _run_with_pose(node, publisher, _pose_msg(ros), _succeeded)
        assert status == GoalStatus.STATUS_SUCCEEDED, result
    finally:
        ros.node.destroy_publisher(publisher)
        node.close()


def test_pose_qos_is_a_parameter(ros, ros_processes, workdir, patrol_model):  # noqa: F811
    topic = unique('pose_be')
    qos = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.BEST_EFFORT,
                     durability=QoSDurabilityPolicy.VOLATILE)
    publisher = ros.node.create_publisher(PoseWithCovarianceStamped, '/' + topic, qos)
    strict = _pose_node(ros, ros_processes, workdir, patrol_model, topic)
    try:
        status, result = _run_with_pose(strict, publisher, _pose_msg(ros),
                                        lambda status, result: 'incompatible' in result.message)
        assert result.error_code == ErrorCode.POSE_UNAVAILABLE, result
        assert 'incompatible QoS' in result.message and 'pose_qos_reliability' in result.message
    finally:
        strict.close()
    loose = _pose_node(ros, ros_processes, workdir, patrol_model, topic + 'b',
                       ['pose_qos_reliability:=best_effort', 'pose_qos_durability:=volatile'])
    publisher_b = ros.node.create_publisher(PoseWithCovarianceStamped, f'/{topic}b', qos)
    try:
        assert wait_until(lambda: publisher_b.get_subscription_count() >= 1, 20.0)
        status, result = _run_with_pose(loose, publisher_b, _pose_msg(ros), _succeeded)
        assert status == GoalStatus.STATUS_SUCCEEDED, result
    finally:
        ros.node.destroy_publisher(publisher)
        ros.node.destroy_publisher(publisher_b)
        loose.close()


# --- 7. memory over lifecycle cycles ----------------------------------------------------------

def test_memory_stays_flat_over_10_lifecycle_cycles(planner):
    sizes = []
    for _ in range(10):
        for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
                           Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            assert planner.transition(transition), (transition, planner.proc.tail())
        planner.plan('go to the office')
        sizes.append(rss_mib(planner.proc.pid))
    print('RSS MiB per cycle: ' + ', '.join(f'{s:.0f}' for s in sizes))
    growth = max(sizes[2:]) - sizes[2]
    # Before the fix each cycle kept ~15-25 MiB of the tiny model's buffers.
    assert growth < 30.0, sizes


# --- 8. requests during the autostart load ----------------------------------------------------

@contextlib.contextmanager
def crowded(ros):  # noqa: F811
    """
    Give this process CROWD_READERS more readers (a node of its own, not spun).

    The race of CI's busy 2-core machine, made certain: a node started
    now discovers this process's clients' request writers seconds before
    their response readers. Fast DDS waits 100 ms for a caller's reader,
    then drops the answer ("failed to send response (timeout)"); the node
    holds its answers until it has discovered the reader. Without that, no
    answer ever came.
    """
    import rclpy
    crowd = rclpy.create_node(unique('crowd'), context=ros.node.context)
    try:
        for i in range(CROWD_READERS):
            crowd.create_subscription(String, f'/{crowd.get_name()}/topic_{i}',
                                      lambda m: None, 1)
        yield
    finally:
        crowd.destroy_node()


def test_requests_during_the_load_get_not_active_at_once(ros, ros_processes,  # noqa: F811
                                                         tiny_gguf):
    with crowded(ros):
        _ask_during_the_load(ros, ros_processes, tiny_gguf)


def test_parameter_and_lifecycle_answers_reach_a_new_caller(ros, ros_processes,  # noqa: F811
                                                            tiny_gguf):
    with crowded(ros):
        node = PlannerProc(ros, ros_processes, [f'model_path:={tiny_gguf}', 'autostart:=false'],
                           'late')
        try:
            assert node.params_client.wait_for_service(timeout_sec=30.0)
            assert node.set_param('busy_policy', 'reject').successful
            assert node.transition(Transition.TRANSITION_CONFIGURE) is True
        finally:
            node.close()


def _ask_during_the_load(ros, ros_processes, tiny_gguf):  # noqa: F811
    # The byte-vocabulary model takes seconds to evaluate the cached examples;
    # no KV state file (an earlier test may have left one for this model).
    node = PlannerProc(ros, ros_processes, [f'model_path:={tiny_gguf}',
                                            'num_examples:=6', "kv_cache_dir:=''"], 'loading')
    try:
        assert node.plan_client.wait_for_service(timeout_sec=30.0)
        if 'active: ready' in node.proc.output():
            pytest.skip('the model loaded before the request could be sent')
        start = time.monotonic()
        response = node.plan('go to the office', timeout=30.0)
        took = time.monotonic() - start
        ready = 'active: ready' in node.proc.output()
        print(f'answer during the load after {took:.2f} s (loaded by then: {ready})')
        assert (response.success, response.error_code) == (False, ErrorCode.NOT_ACTIVE)
        assert 'loading the model' in response.message
        assert node.wait_ready() == 'active: ready'
        assert node.plan('').error_code == ErrorCode.INVALID_TASK
    finally:
        node.close()


# --- 10. bad task text in llm-planner call ------------------------------------------------------

def test_call_refuses_nul_and_non_utf8_tasks(planner, ros_env, capsys):
    from argparse import Namespace
    from llm_planner.ros import client
    env = dict(ros_env)
    bad = b'go to the kitchen \xff\xfe'
    proc = subprocess.run([sys.executable, '-m', 'llm_planner.cli', 'call', '--node',
                           planner.fqn, '--dry-run', '--timeout', '30', bad],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=REPO, timeout=120)
    out = proc.stdout.decode('utf-8', 'replace')
    assert proc.returncode == 1, (out, proc.stderr)
    assert 'INVALID_TASK' in out and 'UTF-8' in out, out
    assert b'Traceback' not in proc.stderr
    args = Namespace(task='Go to the kitchen\0 and then go to the office', dry_run=True,
                     wait=False, node=planner.fqn, timeout=5.0, exec_timeout=5.0)
    assert client.run(args) == 1
    out = capsys.readouterr().out
    assert 'INVALID_TASK' in out and 'NUL' in out
    # A good task through the same command reaches the node.
    proc = subprocess.run([sys.executable, '-m', 'llm_planner.cli', 'call', '--node',
                           planner.fqn, '--dry-run', '--timeout', '60', ''],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                          cwd=REPO, timeout=120)
    assert 'INVALID_TASK' in proc.stdout.decode() and 'empty' in proc.stdout.decode()
