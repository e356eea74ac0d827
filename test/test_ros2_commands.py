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
The README's ``ros2`` commands, run as a user runs them, as subprocesses.

One system for the module: ``ros2 launch llm_planner demo.launch.py`` with
the tiny model (launch arguments ``model_path`` and ``params_file``; the
catalog is one argument-less skill, PATROL, a navigation goal of the
loopback robot, and a tiny-model seed is picked that plans ``PATROL()`` for
"patrol", see test/launch_fixtures.py). Then ``ros2 service call``,
``ros2 action send_goal --feedback``, ``ros2 topic echo --once``,
``ros2 lifecycle get/set`` and ``ros2 param set``, each with a timeout, on
the test's own DDS domain (conftest.py). The README's own commands (the
banana task) run verbatim, with checks that hold for any model output (the
tiny model plans PATROL() or refuses); the same commands with the task
"patrol" check an execution end to end. Last, Ctrl-C (SIGINT to the
process group, as a terminal sends it) must stop ``ros2 launch`` and both
nodes with exit code 0.

The ``ros2`` verbs that look at the graph start the ros2 daemon; it is
stopped (``ros2 daemon stop``) when the module ends. Skipped, with the
reason, where ``ros2`` is not installed (the check that the README shows
these commands runs anyway).
"""

import json
import os
import pathlib
import re
import shlex
import subprocess
import time

from launch_fixtures import (
    LAUNCH_TOOLS_MISSING, probe_model, ros2_executable, sim_goal_lines, write_catalog,
    write_params)
import pytest
from std_msgs.msg import String
from support.ros_utils import wait_until

ROS2 = ros2_executable()

README = pathlib.Path(__file__).resolve().parent.parent / 'README.md'
BANANA = 'Go to the kitchen and grab a banana'
# The README's commands, verbatim (test_readme_shows_these_commands checks it).
PLAN_DRY = ('ros2 service call /llm_planner/plan llm_planner_interfaces/srv/Plan '
            f'"{{task: \'{BANANA}\', dry_run: true}}"')
PLAN_BAD = 'ros2 service call /llm_planner/plan llm_planner_interfaces/srv/Plan "{task: \'\'}"'
PLAN_RUN = ('ros2 service call /llm_planner/plan llm_planner_interfaces/srv/Plan '
            f'"{{task: \'{BANANA}\'}}"')
SEND_GOAL = ('ros2 action send_goal --feedback /llm_planner/execute_task '
             f'llm_planner_interfaces/action/ExecuteTask "{{task: \'{BANANA}\'}}"')
ECHO = 'ros2 topic echo --once /llm_planner/status std_msgs/msg/String'
LIFECYCLE_GET = 'ros2 lifecycle get /llm_planner'
LIFECYCLE_SET = 'ros2 lifecycle set /llm_planner {}'
PARAM_OK = 'ros2 param set /llm_planner busy_policy reject'
PARAM_BAD = 'ros2 param set /llm_planner busy_policy sometimes'
LAUNCH = 'ros2 launch llm_planner demo.launch.py model_path:={}'
README_COMMANDS = [PLAN_DRY, PLAN_BAD, PLAN_RUN, SEND_GOAL, ECHO, LIFECYCLE_GET, PARAM_OK,
                   PARAM_BAD, LAUNCH.format('/models/my-model.gguf')] + [
    LIFECYCLE_SET.format(t) for t in ('deactivate', 'activate', 'cleanup', 'configure')]
PLANNING_CODES = ('UNSUPPORTED_TASK', 'UNKNOWN_LOCATION', 'INVALID_PLAN')


def patrol(command):
    """Return the command with the task 'patrol' instead of the README's banana task."""
    return command.replace(BANANA, 'patrol')


# What a ros2 verb prints, and exits with, when the fresh node it makes (no
# daemon yet, or a daemon that has just started) has not discovered the
# target yet; nothing was done, so the command can run again.
NOT_DISCOVERED = ('Node not found', 'Wait for service timed out')
# How long a command keeps being run again while it says that.
DISCOVERY_DEADLINE = 60.0


def ros2(command, timeout=60.0, check=True):
    """
    Run a ``ros2 ...`` command line; return its stdout and stderr together.

    A command that says its target is not discovered yet (NOT_DISCOVERED)
    runs again, until DISCOVERY_DEADLINE s; ``timeout`` bounds each run.
    """
    argv = shlex.split(command)
    assert argv[0] == 'ros2'
    deadline = time.monotonic() + DISCOVERY_DEADLINE
    while True:
        proc = subprocess.run([ROS2] + argv[1:], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        undiscovered = proc.returncode != 0 and any(t in proc.stdout for t in NOT_DISCOVERED)
        if not undiscovered or time.monotonic() > deadline:
            break
    if check:
        assert proc.returncode == 0, (command, proc.returncode, proc.stdout)
    return proc.stdout


def response_fields(out):
    """Parse ``ros2 service call``'s Plan_Response(...) printout (the scalar fields)."""
    match = re.search(r'Plan_Response\((.*)\)\s*$', out, re.S)
    assert match, out
    text = match.group(1)
    fields = {}
    for name in ('error_code', 'message', 'program'):
        m = re.search(rf"\b{name}=(['\"])(.*?)\1(?=, \w+=|$)", text, re.S)
        fields[name] = m.group(2) if m else None
    m = re.search(r'\bsuccess=(True|False)', text)
    fields['success'] = m and m.group(1) == 'True'
    return fields


@pytest.fixture(scope='module')
def system(module_ros_processes, ros_node, tmp_path_factory):
    """``ros2 launch llm_planner demo.launch.py`` with the tiny PATROL model."""
    if ROS2 is None:
        pytest.skip(LAUNCH_TOOLS_MISSING)
    workdir = tmp_path_factory.mktemp('ros2_commands')
    repo = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    catalog = write_catalog(workdir / 'catalog.yaml', skills=('PATROL',))
    model, _ = probe_model(str(workdir), catalog, 'patrol', 1, lambda p: p == 'PATROL()')
    params = write_params(workdir / 'planner.yaml', repo, skills_file=catalog, max_steps=1)
    launch = module_ros_processes.start(
        ROS2, args=shlex.split(LAUNCH.format(model))[1:] + [f'params_file:={params}'],
        name='ros2_launch')
    launch.wait_for_output(r'active: ready', 90.0)
    launch.wait_for_output(r'READY servers', 30.0)
    status = ros_node.subscribe(String, '/llm_planner/status', 50)
    assert ros_node.wait_for_publisher('/llm_planner/status', timeout=20.0)
    launch.status = status
    yield launch
    ros2('ros2 daemon stop', check=False)


def results(system):
    return [json.loads(m.data) for m in system.status.messages
            if json.loads(m.data)['event'] == 'result']


def wait_result(system, count, timeout=60.0):
    """Wait until ``count`` tasks have ended; return the last result event."""
    assert wait_until(lambda: len(results(system)) >= count, timeout), system.tail()
    return results(system)[-1]


def test_readme_shows_these_commands():
    text = README.read_text(encoding='utf-8')
    node_section = text.split('## The node', 1)[1].split('\n## ', 1)[0]
    joined = re.sub(r'\\\n\s*', '', node_section)
    lines = {re.sub(r'\s+', ' ', line.split('  #')[0]).strip() for line in joined.splitlines()}
    missing = [c for c in README_COMMANDS if c not in lines]
    assert not missing, missing


def test_service_call_dry_run(system):
    fields = response_fields(ros2(PLAN_DRY))
    # The tiny model plans PATROL() or refuses: either is an answer.
    assert (fields['success'] and fields['program'] == 'PATROL()') or \
        fields['error_code'] in PLANNING_CODES, fields
    fields = response_fields(ros2(patrol(PLAN_DRY)))
    assert fields['success'] and fields['program'] == 'PATROL()', fields
    assert fields['error_code'] == ''


def test_service_call_bad_task(system):
    fields = response_fields(ros2(PLAN_BAD))
    assert not fields['success'] and fields['error_code'] == 'INVALID_TASK', fields
    assert fields['message']


def test_service_call_executes(system):
    done = len(results(system))
    fields = response_fields(ros2(PLAN_RUN))
    if fields['success']:
        done += 1
        wait_result(system, done)
    else:
        assert fields['error_code'] in PLANNING_CODES, fields
    goals = len(sim_goal_lines(system.output()))
    fields = response_fields(ros2(patrol(PLAN_RUN)))
    assert fields['success'] and 'executing' in fields['message'], fields
    result = wait_result(system, done + 1)
    assert result['success'], result
    assert wait_until(lambda: len(sim_goal_lines(system.output())) > goals, 10.0)
    assert '-> SUCCEEDED' in sim_goal_lines(system.output())[goals]


def test_action_send_goal_with_feedback(system):
    out = ros2(SEND_GOAL, timeout=120.0)
    assert 'Goal accepted' in out, out
    assert re.search(r'Goal finished with status: (SUCCEEDED|ABORTED)', out), out
    if 'status: ABORTED' in out:
        assert re.search(r'error_code: (UNSUPPORTED_TASK|UNKNOWN_LOCATION|INVALID_PLAN)',
                         out), out
    out = ros2(patrol(SEND_GOAL), timeout=120.0)
    assert 'Goal finished with status: SUCCEEDED' in out, out
    # Feedback, in order: planning, the step running, the step succeeded (the
    # last one may come after the result, or not before the command exits:
    # feedback is a topic, the result a service answer).
    states = re.findall(r'^\s*state: (\w+)', out, re.M)
    assert len(states) >= 2 and states == ['planning', 'running', 'succeeded'][:len(states)], out
    assert 'step: PATROL()' in out
    result = out.split('Result:')[1]
    assert 'success: true' in result and "error_code: ''" in result, out


def test_topic_echo_once(system):
    echo = subprocess.Popen([ROS2] + shlex.split(ECHO)[1:], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        # Messages come while a task runs: run one until echo has one (it may
        # still be discovering the publisher when the first task runs).
        deadline = time.monotonic() + 60.0
        while echo.poll() is None and time.monotonic() < deadline:
            done = len(results(system))
            assert response_fields(ros2(patrol(PLAN_RUN)))['success']
            wait_result(system, done + 1)
            wait_until(lambda: echo.poll() is not None, 0.5)  # echo got one and exited
        out, _ = echo.communicate(timeout=10.0)
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.communicate()
    assert echo.returncode == 0, out
    data = re.search(r"^data: '(.*)'$", out, re.M)
    assert data, out
    assert json.loads(data.group(1))['event'] in ('planned', 'step', 'result')


def test_lifecycle_get_and_set(system):
    assert ros2(LIFECYCLE_GET).strip() == 'active [3]'
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('deactivate'))
    assert ros2(LIFECYCLE_GET).strip() == 'inactive [2]'
    fields = response_fields(ros2(patrol(PLAN_DRY)))
    assert fields['error_code'] == 'NOT_ACTIVE', fields
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('activate'))
    assert ros2(LIFECYCLE_GET).strip() == 'active [3]'
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('deactivate'))
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('cleanup'))
    assert ros2(LIFECYCLE_GET).strip() == 'unconfigured [1]'
    # Back to serving: configure (loads the model again), activate.
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('configure'), 120.0)
    assert 'Transitioning successful' in ros2(LIFECYCLE_SET.format('activate'))
    assert ros2(LIFECYCLE_GET).strip() == 'active [3]'
    assert response_fields(ros2(patrol(PLAN_DRY)))['success']


def test_param_set_valid_and_refused(system):
    assert 'Set parameter successful' in ros2(PARAM_OK)
    out = ros2(PARAM_BAD, check=False)
    assert 'Setting parameter failed' in out, out
    assert "busy_policy must be one of preempt, reject, got 'sometimes'" in out, out
    assert ros2('ros2 param get /llm_planner busy_policy').strip() == 'String value is: reject'
    assert 'Set parameter successful' in ros2('ros2 param set /llm_planner busy_policy preempt')


def test_ctrl_c_stops_launch_and_both_nodes_with_0(system):
    assert system.is_running(), system.tail()
    # RosProcess.stop: SIGINT to the process group, as Ctrl-C in a terminal.
    assert system.stop(timeout=30.0) == 0, system.tail()
    out = system.output()
    assert len(re.findall(r'process has finished cleanly', out)) == 2, system.tail()
    assert 'process has died' not in out, system.tail()
