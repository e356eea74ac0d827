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
planner_node restarted: the evaluated prompt comes back from its KV state file.

Processes one after the other, over real DDS: the first (shared by the
tests) evaluates the prompt and writes the file; a second restores a copy
of it and answers the same plans; a damaged copy costs a warning line and a
rebuild, not the node.
"""

import glob
import os
import pathlib
import shutil

from llm_planner.core.errors import ErrorCode
from llm_planner_interfaces.srv import Plan
import pytest
from support.ros_utils import unique

ROOT = pathlib.Path(__file__).resolve().parent.parent
PARAMS_FILE = ROOT / 'config' / 'planner.yaml'
# The byte-vocabulary model spells the cached example bank in ~19k tokens.
# check_actions off: the random model's action line would refuse every task.
TINY_PARAMS = {'n_ctx': 32768, 'num_examples': 2, 'max_tokens': 512, 'max_steps': 3,
               'planning_timeout': 60.0, 'check_actions': False}
TASKS = ['Go to the kitchen and grab a banana', 'Bring me the book from the office',
         'Cook dinner', 'Find my keys', 'Va dans la chambre', '   ']


def run_node(ros_processes, ros_node, model, cache_dir):
    """Start planner_node, plan TASKS (dry run), stop it; return (log, answers)."""
    ns = '/' + unique('restart')
    args = ['--params-file', str(PARAMS_FILE)]  # then -p: the later one wins
    for name, value in dict(TINY_PARAMS, model_path=model, kv_cache_dir=str(cache_dir)).items():
        args += ['-p', f'{name}:={value}']
    proc = ros_processes.start('llm_planner.ros.planner_node', namespace=ns, ros_args=args,
                               name='planner')
    proc.wait_for_output(r'active: ready|configure failed', 120.0)
    client = ros_node.service_client(Plan, f'{ns}/llm_planner/plan')
    answers = []
    for task in TASKS:
        response = ros_node.call_service(client, Plan.Request(task=task, dry_run=True), 90.0)
        answers.append((response.success, response.error_code, response.program))
    log = proc.output()
    assert proc.stop() == 0
    return log, answers


@pytest.fixture(scope='module')
def cold(module_ros_processes, ros_node, tiny_model, tmp_path_factory):
    """Run a first node (no state file yet); return (its folder, log, answers) for the tests."""
    folder = tmp_path_factory.mktemp('kv_cold')
    log, answers = run_node(module_ros_processes, ros_node, tiny_model, folder)
    return folder, log, answers


def _copy_of(folder, tmp_path):
    """Copy the cold node's state file into ``tmp_path``; return the copy's path."""
    source, = glob.glob(str(folder / 'kv-*.kvstate'))
    target = tmp_path / os.path.basename(source)
    shutil.copyfile(source, target)
    return target


def test_a_restarted_node_restores_the_prompt_and_plans_the_same(ros_processes, ros_node,
                                                                 tiny_model, tmp_path, cold):
    folder, cold_log, cold_answers = cold
    assert 'KV state file: miss' in cold_log, cold_log
    assert len(glob.glob(str(folder / 'kv-*.kvstate'))) == 1
    _copy_of(folder, tmp_path)
    warm_log, warm = run_node(ros_processes, ros_node, tiny_model, tmp_path)
    assert 'KV state file: hit' in warm_log, warm_log
    assert warm == cold_answers
    assert sum(ok for ok, _, _ in cold_answers) >= 1  # the model wrote plans, not only refusals
    assert cold_answers[-1][:2] == (False, ErrorCode.INVALID_TASK)


def test_a_damaged_file_is_a_warning_and_a_rebuild(ros_processes, ros_node, tiny_model,
                                                   tmp_path, cold):
    folder, _, fresh = cold
    path = _copy_of(folder, tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)
    log, answers = run_node(ros_processes, ros_node, tiny_model, tmp_path)
    warnings = [line for line in log.splitlines() if 'KV state cache: ignoring' in line]
    assert len(warnings) == 1 and 'checksum' in warnings[0], log
    assert 'KV state file: miss' in log  # evaluated and written again
    assert answers == fresh
