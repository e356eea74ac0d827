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
scripts/setup_ros_tools.sh picks where the ROS 2 tools come from.

The cases that install nothing: no sources (``none``, the tests that need the
tools then skip), a system install (``system``), an incomplete source tree
(an error naming the missing package). With the sources installed and
unchanged, a second run is a no-op that names composition_interfaces for
colcon.
"""

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = REPO / 'scripts' / 'setup_ros_tools.sh'


def run(env_changes, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_changes)
    proc = subprocess.run(['bash', str(SCRIPT)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=600)
    return proc.returncode, proc.stdout.strip(), proc.stderr


def test_no_sources_installs_nothing_and_says_how(tmp_path):
    rc, out, err = run({'ROS2_PY_VENDOR': str(tmp_path / 'absent')})
    assert (rc, out) == (0, 'none')
    assert 'ROS2_PY_VENDOR' in err and 'skip' in err


def test_a_system_ros2_is_used(tmp_path):
    fake = tmp_path / 'bin' / 'ros2'
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nexit 0\n')
    fake.chmod(0o755)
    rc, out, err = run({'PATH': f'{fake.parent}:/usr/bin:/bin'},
                       drop=('ROS2_PY_VENDOR', 'ROS_DISTRO'))
    assert (rc, out) == (0, 'system')
    assert str(fake) in err


def test_incomplete_sources_are_an_error(tmp_path):
    (tmp_path / 'launch').mkdir()
    (tmp_path / 'launch' / 'package.xml').write_text('<package/>')
    rc, out, err = run({'ROS2_PY_VENDOR': str(tmp_path)})
    assert rc == 1
    assert 'package rosidl_runtime_py not found' in err


def test_second_run_with_the_sources_is_a_no_op():
    stamp = REPO / '.venv' / '.llm_planner_ros_tools'
    if not stamp.exists():
        pytest.skip('the ROS 2 tools were not installed from sources here')
    vendor = stamp.read_text().split(' ', 1)[1].strip()
    before = stamp.stat().st_mtime
    rc, out, err = run({'ROS2_PY_VENDOR': vendor})
    assert rc == 0, err
    assert out == f'vendor {vendor}/composition_interfaces'
    assert 'installing' not in err and stamp.stat().st_mtime == before
