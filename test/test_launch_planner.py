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
launch_testing test of launch/planner.launch.py.

It starts the planner through its launch file, with the package's parameters
file and a tiny model written by the test, then checks over DDS that the
`~/plan` service comes up, refuses an empty task with INVALID_TASK and plans a
dry-run task. launch and launch_testing are not on PyPI: `make setup` installs
them from their sources when present (see README); where they are missing the
test is skipped with that reason, and test/test_node.py starts the same
executable with the same parameters file and checks the same behaviour.
"""

import os
import sys
import tempfile
import time
import unittest

from launch_fixtures import LAUNCH_TOOLS_MISSING
import pytest

launch_testing = pytest.importorskip(
    'launch_testing', reason=LAUNCH_TOOLS_MISSING + '; test/test_node.py covers the same checks')
pytest.importorskip('launch_ros', reason=LAUNCH_TOOLS_MISSING)

from ament_index_python.packages import get_package_share_directory  # noqa: E402, I100
from launch import LaunchDescription  # noqa: E402
from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
import launch_testing.actions  # noqa: E402
from llm_planner.testing.tiny_model import write_tiny_gguf  # noqa: E402
from llm_planner_interfaces.srv import Plan  # noqa: E402
import rclpy  # noqa: E402
import yaml  # noqa: E402

WORKDIR = tempfile.mkdtemp(prefix='llm_planner_launch_test_')
MODEL = os.path.join(WORKDIR, 'tiny.gguf')
PARAMS = os.path.join(WORKDIR, 'planner.yaml')


@pytest.mark.launch_test
def generate_test_description():
    write_tiny_gguf(MODEL)
    share = get_package_share_directory('llm_planner')
    # The package's parameters file, with the one change the tiny model needs:
    # its vocabulary is bytes, so the prompt and the cached examples take ~4x
    # the tokens.
    with open(os.path.join(share, 'config', 'planner.yaml')) as f:
        params = yaml.safe_load(f)
    params['llm_planner']['ros__parameters']['n_ctx'] = 32768
    with open(PARAMS, 'w') as f:
        yaml.safe_dump(params, f)
    planner = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(os.path.join(share, 'launch', 'planner.launch.py')),
        launch_arguments={'model_path': MODEL, 'params_file': PARAMS}.items())
    return LaunchDescription([planner, launch_testing.actions.ReadyToTest()])


class TestPlannerLaunch(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node('planner_launch_test')
        cls.client = cls.node.create_client(Plan, '/llm_planner/plan')

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def call(self, task, dry_run=True, timeout=30.0):
        future = self.client.call_async(Plan.Request(task=task, dry_run=dry_run))
        rclpy.spin_until_future_complete(self.node, future, timeout_sec=timeout)
        self.assertTrue(future.done(), f'no answer to {task!r} within {timeout} s')
        return future.result()

    def test_plan_service(self):
        self.assertTrue(self.client.wait_for_service(timeout_sec=30.0),
                        '/llm_planner/plan did not come up')
        deadline = time.monotonic() + 30.0
        response = self.call('')
        while response.error_code == 'NOT_ACTIVE' and time.monotonic() < deadline:
            time.sleep(0.2)
            response = self.call('')
        self.assertFalse(response.success)
        self.assertEqual(response.error_code, 'INVALID_TASK')
        # The tiny random-weight model writes a random but grammar-valid plan:
        # it validates, or names a place off the map, or refuses.
        response = self.call('Go to the kitchen and grab a banana')
        self.assertIn(response.error_code, ('', 'UNKNOWN_LOCATION', 'UNSUPPORTED_TASK'),
                      response.message)
        if response.success:
            self.assertGreater(len(response.steps), 0)
            self.assertEqual(len(response.program.splitlines()), len(response.steps))


if __name__ == '__main__':
    sys.exit(unittest.main())
