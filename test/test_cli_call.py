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
``llm-planner call`` as a subprocess: the exit status of every path.

0 for a plan (dry run, or execution started, or followed with ``--wait`` to
success), 1 for a refused task, a failed execution or no planner node, 2 for
a usage error, 130 for Ctrl-C while following. None of them may abort (it
once ended with "terminate called without an active exception", status 134,
because rclpy was shut down under a still-spinning executor thread).

The node is test_node.py's PATROL node (a tiny model picked to plan
``PATROL()``) aimed at sim_robot's navigate server.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from support.ros_utils import unique, wait_until
# The PATROL node and its tiny model, shared with test_node.py.
from test_node import (  # noqa: F401 - fixtures
    NAVIGATE_RUN, patrol_model, PlannerProc, ros, workdir, write_catalog)

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
ABORT = 'terminate called'


def cli_command():
    """Return the installed ``llm-planner`` command (else the module, same entry point)."""
    path = shutil.which('llm-planner')
    return [path] if path else [sys.executable, '-m', 'llm_planner.cli']


def call(args, timeout=120):
    proc = subprocess.run(cli_command() + ['call'] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, cwd=REPO)
    assert ABORT not in proc.stderr and 'Traceback' not in proc.stderr, proc.stderr
    assert proc.returncode >= 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.returncode, proc.stdout, proc.stderr


class Patrol:
    """A PATROL node and the sim_robot it drives, with the sim's failures settable."""

    def __init__(self, ros_node, processes, workdir, model):  # noqa: F811
        self.server = unique('navigate')
        self.sim_name = unique('sim_robot')
        self.sim = processes.start('llm_planner.sim.sim_robot', {
            'navigate_action_name': self.server, 'pose_topic': unique('pose')},
            node_name=self.sim_name, name='sim')
        self.sim.wait_for_output('READY', 30.0)
        catalog = write_catalog(workdir / 'patrol-call.yaml', NAVIGATE_RUN, '/' + self.server)
        self.node = PlannerProc(ros_node, processes, [
            f'model_path:={model}', f'skills_file:={catalog}', 'max_steps:=1'], 'patrol')
        assert self.node.wait_ready() == 'active: ready', self.node.proc.output()
        self.ros = ros_node
        self.sim_params = ros_node.node.create_client(
            SetParameters, f'/{self.sim_name}/set_parameters',
            callback_group=ros_node.callback_group)

    def fail(self, specs):
        """Set sim_robot's injected failures (``fail`` parameter) at run time."""
        assert self.sim_params.wait_for_service(timeout_sec=10.0)
        value = ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY,
                               string_array_value=list(specs))
        request = SetParameters.Request(parameters=[Parameter(name='fail', value=value)])
        result = self.ros.wait_future(self.sim_params.call_async(request), 10.0).results[0]
        assert result.successful, result.reason

    def results(self):
        return self.node.results()


@pytest.fixture(scope='module')
def patrol(ros, module_ros_processes, workdir, patrol_model):  # noqa: F811
    harness = Patrol(ros, module_ros_processes, workdir, patrol_model)
    yield harness
    harness.ros.node.destroy_client(harness.sim_params)
    assert harness.node.close() == 0


def test_no_node_exits_1_every_time():
    # The abort was seen every time on this path: try it a few times.
    for _ in range(3):
        rc, out, _ = call(['--node', '/' + unique('nobody'), '--timeout', '1', 'patrol'])
        assert rc == 1
        assert out.startswith('error: SERVER_UNAVAILABLE: ')


@pytest.mark.parametrize('args', [[], ['--timeout', 'soon', 'x'], ['--frobnicate', 'x']])
def test_usage_error_exits_2(args):
    rc, _, err = call(args)
    assert rc == 2 and 'usage:' in err


def test_dry_run_exits_0(patrol):
    rc, out, err = call(['--node', patrol.node.fqn, '--dry-run', 'patrol'])
    assert rc == 0, (out, err)
    assert 'PATROL()' in out


def test_refused_task_exits_1(patrol):
    rc, out, err = call(['--node', patrol.node.fqn, '   '])
    assert rc == 1, (out, err)
    assert out.startswith('error: INVALID_TASK: ')


def test_execute_exits_0_at_once_and_wait_follows_to_success(patrol):
    done = len(patrol.results())
    rc, out, err = call(['--node', patrol.node.fqn, 'patrol'])
    assert rc == 0, (out, err)
    assert 'executing' in out
    assert wait_until(lambda: len(patrol.results()) > done, 60.0)
    rc, out, err = call(['--node', patrol.node.fqn, '--wait', 'patrol'])
    assert rc == 0, (out, err)
    assert '[1/1] PATROL(): running' in out and 'succeeded' in out.splitlines()[-1]


def test_wait_on_a_failed_execution_exits_1(patrol):
    patrol.fail(['navigate:abort'])
    try:
        rc, out, err = call(['--node', patrol.node.fqn, '--wait', 'patrol'])
    finally:
        patrol.fail([])
    assert rc == 1, (out, err)
    assert 'failed at step 0: STEP_FAILED: ' in out.splitlines()[-1]


def test_ctrl_c_while_following_exits_130(patrol):
    patrol.fail(['navigate:delay:30'])
    proc = subprocess.Popen(cli_command() + ['call', '--node', patrol.node.fqn, '--wait',
                                             'patrol'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    # The command's own output says when it follows its running task (a step
    # event on the node's topic may be a late one of the previous test's task).
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        assert wait_until(lambda: any(': running' in line for line in list(lines)), 60.0), \
            ''.join(lines)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        reader.join(timeout=10)
        out, err = ''.join(lines), proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        patrol.fail([])
    assert ABORT not in err, err
    assert proc.returncode == 130, (out, err)
    assert 'interrupted' in out
