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
The package manifests are well-formed format-3 manifests (ament_xmllint's job).

ament_xmllint is not on PyPI; catkin_pkg parses and validates the manifest
the way colcon and rosdep read it.
"""

from xml.dom import minidom

from catkin_pkg.package import parse_package
import pytest
from support.lint_paths import ROOT

MANIFESTS = [ROOT / 'package.xml', ROOT / 'llm_planner_interfaces' / 'package.xml']


@pytest.mark.linter
@pytest.mark.xmllint
@pytest.mark.parametrize('path', MANIFESTS, ids=lambda p: p.parent.name)
def test_package_xml(path):
    minidom.parse(str(path))  # well-formed XML
    package = parse_package(str(path))
    package.validate()
    assert package.package_format == 3
    assert package.licenses and package.maintainers
    assert package.get_build_type() in ('ament_python', 'ament_cmake')
