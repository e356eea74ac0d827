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
"""The project's own Python sources, for the linter tests."""

import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
# Folders and files holding the project's Python code (never .venv, build, install).
SOURCE_DIRS = ('llm_planner', 'test', 'scripts', 'launch', 'eval', 'benchmarks')


def lint_paths():
    """Return the paths the linters check, as strings, relative to nothing."""
    paths = [str(ROOT / d) for d in SOURCE_DIRS if (ROOT / d).is_dir()]
    return paths + [str(ROOT / 'setup.py')]


def python_files():
    """Return every Python source file of the project."""
    files = []
    for d in SOURCE_DIRS:
        files += sorted((ROOT / d).rglob('*.py'))
    return files + [ROOT / 'setup.py']
