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
Every source file carries the Apache-2.0 header (ament_copyright's check).

ament_copyright is not on PyPI, so this test makes the same check: a
copyright line and the Apache-2.0 license notice at the top of each file.
"""

import re

import pytest
from support.lint_paths import python_files

COPYRIGHT_RE = re.compile(r'^# Copyright \d{4}(-\d{4})? .+$', re.M)
LICENSE_LINE = '# Licensed under the Apache License, Version 2.0 (the "License");'
EXEMPT = {'setup.py'}  # as in ros2/examples: setup.py carries no header


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    missing = []
    for path in python_files():
        if path.name in EXEMPT:
            continue
        head = path.read_text(encoding='utf-8')[:1200]
        if not COPYRIGHT_RE.search(head) or LICENSE_LINE not in head:
            missing.append(str(path))
    assert not missing, 'Files without the Apache-2.0 header:\n' + '\n'.join(missing)
