#!/usr/bin/env python3
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
Point the ROS 2 wheels' CMake files at this interpreter's headers.

The ros-jazzy-* wheels were built under /opt/python/cp311-cp311 and their
exported CMake files still name that interpreter's include directory and
numpy's. Rewrite those paths in <venv>/share/**/*.cmake so that
rosidl_generate_interfaces() can build Python type support here. Idempotent.
"""

import pathlib
import sys
import sysconfig

import numpy

OLD_PY_INCLUDE = '/opt/python/cp311-cp311/include/python3.11'
OLD_NUMPY_INCLUDE = (
    '/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include')


def main():
    share = pathlib.Path(sys.prefix) / 'share'
    replacements = {
        OLD_NUMPY_INCLUDE: numpy.get_include(),
        OLD_PY_INCLUDE: sysconfig.get_paths()['include'],
    }
    changed = 0
    for path in share.rglob('*.cmake'):
        text = path.read_text()
        new = text
        for old, repl in replacements.items():
            new = new.replace(old, repl)
        if new != text:
            path.write_text(new)
            changed += 1
    print(f'fix_ros_wheels_cmake: rewrote {changed} file(s) under {share}')


if __name__ == '__main__':
    main()
