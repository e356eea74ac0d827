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
What the tests of the launch files and the ``ros2`` commands share.

A known plan with the tiny random model, as in test/test_node.py: the
planner is given a catalog of skills without arguments, each bound to a
navigation goal of sim_robot, so the grammar leaves the model few answers
(a few of those calls, or ``ERROR``); :func:`probe_model` picks the first
tiny-model seed whose dry-run plan for the task suits the test. The
parameters file is the package's ``planner.yaml`` with the changes the tiny
byte-vocabulary model needs.
"""

import os
import shutil

import yaml

# Skill -> the navigation goal it sends (x, y); the sim robot drives there.
PLACES = {'PATROL': (1.0, 0.5), 'DOCK': (0.0, 0.0)}
DESCRIPTIONS = {'PATROL': 'Drive to the patrol point',
                'DOCK': 'Drive back to the docking station'}
# The tiny model spells the cached example bank in ~19k tokens.
TINY = {'n_ctx': 32768, 'num_examples': 1, 'max_tokens': 512, 'planning_timeout': 60.0}
LAUNCH_TOOLS_MISSING = (
    'the ROS 2 launch and command-line tools are not installed (launch, launch_ros, '
    'launch_testing, ros2cli are not on PyPI): make setup installs them from '
    '../shared/vendor/ros2-jazzy-python or $ROS2_PY_VENDOR, or use a ROS 2 install')


def ros2_executable():
    """Return the path of the ``ros2`` command, or None."""
    return shutil.which('ros2')


def write_catalog(path, skills=('PATROL', 'DOCK'), server='navigate_to_pose'):
    """Write a catalog of argument-less skills, each a Navigate goal to its place."""
    entries = []
    for name in skills:
        x, y = PLACES[name]
        entries.append({'name': name, 'description': DESCRIPTIONS[name], 'run': {
            'kind': 'action', 'type': 'llm_planner_interfaces/action/Navigate',
            'server': server,
            'goal': {'pose': {'header': {'frame_id': 'map'},
                              'pose': {'position': {'x': x, 'y': y},
                                       'orientation': {'w': 1.0}}}},
            'success': {'field': 'error_code', 'equals': 0},
            'error_code_field': 'error_code', 'message_field': 'error_msg', 'timeout': 60.0}})
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump({'skills': entries}, f)
    return str(path)


def write_params(path, share, **overrides):
    """Write the package's planner.yaml with the tiny model's settings and ``overrides``."""
    with open(os.path.join(share, 'config', 'planner.yaml'), encoding='utf-8') as f:
        params = yaml.safe_load(f)
    params['llm_planner']['ros__parameters'].update(TINY, **overrides)
    with open(path, 'w', encoding='utf-8') as f:
        yaml.safe_dump(params, f)
    return str(path)


def probe_model(workdir, catalog, task, max_steps, accept, seeds=range(16)):
    """
    Return ``(model path, program)``: the first tiny-model seed whose plan is accepted.

    ``accept(program)`` says whether the dry-run plan of ``task`` (with
    ``catalog`` and ``max_steps``) suits the test. Raises RuntimeError when
    no seed does.
    """
    from llm_planner.planning.config import PlannerConfig
    from llm_planner.planning.planner import Planner
    from llm_planner.testing.tiny_model import write_tiny_gguf
    tried = []
    for seed in seeds:
        path = str(write_tiny_gguf(os.path.join(workdir, f'tiny-seed{seed}.gguf'), seed=seed))
        config = PlannerConfig.from_dict(
            dict(TINY, model_path=path, skills_file=catalog, max_steps=max_steps))
        planner = Planner(config)
        try:
            planner.load()
            program = planner.plan(task).program
        except Exception as e:  # noqa: BLE001 - ERROR (UNSUPPORTED_TASK) or other: next seed
            program = f'({type(e).__name__}: {e})'
        finally:
            planner.close()
        if accept(program):
            return path, program
        tried.append(f'seed {seed}: {program!r}')
    raise RuntimeError(f'no tiny-model seed plans {task!r} as needed: ' + '; '.join(tried))


def sim_goal_lines(text, server='navigate_to_pose'):
    """Return sim_robot's one-line goal summaries of ``server`` found in ``text``, in order."""
    return [line[line.index('GOAL '):] for line in text.splitlines()
            if f'GOAL {server} ' in line]
