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
launch_testing test of launch/demo.launch.py, end to end.

The planner and the loopback robot start through the demo launch file (the
tiny model written here, through the launch argument ``model_path``; a
parameters file whose catalog has two argument-less navigation skills, see
test/launch_fixtures.py). Over DDS, in order:

1. a task is executed through ``~/execute_task``: its steps run in plan
   order, as the feedback and the robot's own goal log show;
2. an injected failure (the robot's navigation aborts with Nav2's TIMEOUT
   code, set on sim_robot's ``fail`` parameter at run time) fails the task
   with STEP_FAILED, the failed step and the server's error code;
3. a running task is canceled: CANCELED, and the robot's goal too.

After shutdown (launch_testing sends SIGINT), both processes must have
exited with code 0. Skipped, with the reason, where launch_testing is absent.
"""

import os
import sys
import tempfile
import threading
import time
import unittest

from launch_fixtures import LAUNCH_TOOLS_MISSING
import pytest

launch_testing = pytest.importorskip('launch_testing', reason=LAUNCH_TOOLS_MISSING)
pytest.importorskip('launch_ros', reason=LAUNCH_TOOLS_MISSING)

from action_msgs.msg import GoalStatus  # noqa: E402, I100
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch_fixtures import (  # noqa: E402
    PLACES, probe_model, sim_goal_lines, write_catalog, write_params)
import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from llm_planner_interfaces.action import ExecuteTask  # noqa: E402
from llm_planner_interfaces.srv import Plan  # noqa: E402
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
import rclpy  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402

WORKDIR = tempfile.mkdtemp(prefix='llm_planner_demo_launch_')
TASK = 'patrol, then dock'
PLAN = {}


def multi_step(program):
    return len(program.splitlines()) >= 2 and not program.startswith('(')


@pytest.mark.launch_test
def generate_test_description():
    share = get_package_share_directory('llm_planner')
    catalog = write_catalog(os.path.join(WORKDIR, 'catalog.yaml'))
    model, program = probe_model(WORKDIR, catalog, TASK, 3, multi_step)
    PLAN['program'] = program
    params = write_params(os.path.join(WORKDIR, 'planner.yaml'), share,
                          skills_file=catalog, max_steps=3)
    demo = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'demo.launch.py')),
        launch_arguments={'model_path': model, 'params_file': params}.items())
    return LaunchDescription([demo, launch_testing.actions.ReadyToTest()])


def wait(future, timeout):
    """Wait for a future completed by the spinning executor; fail on timeout."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout):
        raise AssertionError(f'no answer within {timeout} s')
    return future.result()


def answer(client, request, timeout):
    """Return the error code of a call's answer, None when none came within ``timeout``."""
    done = threading.Event()
    future = client.call_async(request)
    future.add_done_callback(lambda _: done.set())
    if not done.wait(timeout):
        client.remove_pending_request(future)
        return None
    return future.result().error_code


class TestDemoLaunch(unittest.TestCase):
    """The three runs share the launched system; unittest runs them in name order."""

    @classmethod
    def setUpClass(cls):
        cls.context = rclpy.Context()
        rclpy.init(context=cls.context)
        cls.node = rclpy.create_node('demo_launch_test', context=cls.context)
        cls.plan = cls.node.create_client(Plan, '/llm_planner/plan')
        cls.action = ActionClient(cls.node, ExecuteTask, '/llm_planner/execute_task')
        cls.sim_params = cls.node.create_client(SetParameters, '/sim_robot/set_parameters')
        cls.executor = rclpy.executors.MultiThreadedExecutor(context=cls.context)
        cls.executor.add_node(cls.node)
        cls.spinner = threading.Thread(target=cls.executor.spin, daemon=True)
        cls.spinner.start()
        assert cls.plan.wait_for_service(timeout_sec=60.0), '/llm_planner/plan not up'
        assert cls.action.wait_for_server(timeout_sec=30.0), 'execute_task not up'
        assert cls.sim_params.wait_for_service(timeout_sec=30.0), 'sim_robot not up'
        # Discovery settles both ways once the node answers a request (our
        # reply reader found), and it is active once the answer is not NOT_ACTIVE.
        deadline = time.monotonic() + 60.0
        while answer(cls.plan, Plan.Request(task=''), 5.0) in (None, 'NOT_ACTIVE') \
                and time.monotonic() < deadline:
            time.sleep(0.2)

    @classmethod
    def tearDownClass(cls):
        cls.executor.shutdown(timeout_sec=5.0)
        cls.spinner.join(timeout=5.0)
        cls.action.destroy()
        cls.node.destroy_node()
        rclpy.try_shutdown(context=cls.context)

    def fail(self, specs):
        value = ParameterValue(type=ParameterType.PARAMETER_STRING_ARRAY,
                               string_array_value=list(specs))
        request = SetParameters.Request(parameters=[Parameter(name='fail', value=value)])
        result = wait(self.sim_params.call_async(request), 10.0).results[0]
        self.assertTrue(result.successful, result.reason)

    def execute(self, feedback, on_running=None, timeout=120.0):
        def on_feedback(msg):
            feedback.append(msg.feedback)
            if on_running is not None and msg.feedback.state == 'running':
                on_running(handle_box)
        handle_box = []
        handle = wait(self.action.send_goal_async(ExecuteTask.Goal(task=TASK),
                                                  feedback_callback=on_feedback), 30.0)
        self.assertTrue(handle.accepted)
        handle_box.append(handle)
        response = wait(handle.get_result_async(), timeout)
        return response.status, response.result

    def goal_lines(self, proc_output, count, timeout=10.0):
        """Return the robot's navigation goal lines once ``count`` are there."""
        deadline = time.monotonic() + timeout
        while True:
            text = ''.join(o.text.decode('utf-8', 'replace') for o in proc_output)
            lines = sim_goal_lines(text)
            if len(lines) >= count or time.monotonic() > deadline:
                return lines
            time.sleep(0.1)

    def test_1_task_runs_its_goals_in_order(self, proc_output):
        program = PLAN['program']
        skills = [line.split('(')[0] for line in program.splitlines()]
        feedback = []
        status, result = self.execute(feedback)
        self.assertEqual(status, GoalStatus.STATUS_SUCCEEDED, result.message)
        self.assertEqual((result.success, result.error_code, result.failed_step), (True, '', -1))
        self.assertEqual([s.function for s in result.steps], skills)
        # Feedback: planning, then each step running and succeeded, in plan order.
        events = [(f.step_index, f.state) for f in feedback if f.state != 'planning']
        expected = [(i, state) for i in range(len(skills)) for state in ('running', 'succeeded')]
        self.assertEqual(events, expected)
        self.assertEqual([f.step for f in feedback if f.state == 'running'],
                         program.splitlines())
        # The robot received one navigation goal per step, at the step's place, in order.
        lines = self.goal_lines(proc_output, len(skills))
        self.assertEqual(len(lines), len(skills), lines)
        for line, skill in zip(lines, skills):
            x, y = PLACES[skill]
            self.assertIn(f'{x:.2f}', line)
            self.assertIn(f'{y:.2f}', line)
            self.assertIn('-> SUCCEEDED', line)

    def test_2_injected_failure_gives_its_error_code(self, proc_output):
        before = len(self.goal_lines(proc_output, 0, 0.0))
        self.fail(['navigate:abort:TIMEOUT:no path to the patrol point'])
        try:
            status, result = self.execute([])
        finally:
            self.fail([])
        self.assertEqual(status, GoalStatus.STATUS_ABORTED)
        self.assertEqual((result.success, result.error_code, result.failed_step),
                         (False, 'STEP_FAILED', 0))
        # The server's own code (Nav2's TIMEOUT, 9003) and message are reported.
        self.assertIn('error_code 9003', result.message)
        self.assertIn('no path to the patrol point', result.message)
        lines = self.goal_lines(proc_output, before + 1)
        self.assertEqual(len(lines), before + 1, lines)
        self.assertIn('-> ABORTED', lines[-1])

    def test_3_cancel_stops_the_running_task(self, proc_output):
        before = len(self.goal_lines(proc_output, 0, 0.0))
        self.fail(['navigate:delay:30'])
        canceled = []

        def cancel_once(handle_box):
            if not canceled:
                canceled.append(handle_box[0].cancel_goal_async())
        try:
            status, result = self.execute([], on_running=cancel_once, timeout=60.0)
        finally:
            self.fail([])
        self.assertTrue(canceled)
        self.assertEqual(status, GoalStatus.STATUS_CANCELED, result.message)
        self.assertEqual((result.success, result.error_code, result.failed_step),
                         (False, 'CANCELED', 0))
        lines = self.goal_lines(proc_output, before + 1)
        self.assertEqual(len(lines), before + 1, lines)
        self.assertIn('-> CANCELED', lines[-1])


@launch_testing.post_shutdown_test()
class TestDemoShutdown(unittest.TestCase):

    def test_both_processes_exit_cleanly(self, proc_info):
        # planner_node and sim_robot, after launch's SIGINT: exit code 0 each.
        self.assertEqual(len(proc_info.process_names()), 2, proc_info.process_names())
        launch_testing.asserts.assertExitCodes(proc_info)


if __name__ == '__main__':
    sys.exit(unittest.main())
