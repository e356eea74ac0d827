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
The skills live in YAML only: no skill of the shipped catalog is named in code.

Adding or renaming a skill must be an edit of config/skills.yaml (its verbs,
usage rules and run: binding), never of Python. This test reads every module
of the package and fails on a name or a string literal (docstrings and
comments are documentation, left out) that holds a skill name of the default
catalog as a word. ``tiny_model_bpe`` is a test model whose vocabulary spells
plan text on purpose.
"""

import ast
import os
import pathlib
import re

from llm_planner.core.catalog import SkillCatalog

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = ROOT / 'llm_planner'
TEST_MODELS = {'tiny_model_bpe.py'}


def _docstrings(tree):
    """Return the ids of the docstring nodes of a module, its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                out.add(id(body[0].value))
    return out


def skill_names_in_code(source, names):
    """Return the skill names ``source`` uses in identifiers or non-doc string literals."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    pattern = re.compile(r'\b(' + '|'.join(map(re.escape, names)) + r')\b')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            found.update(pattern.findall(node.value))
        elif isinstance(node, ast.Name):
            found.update(pattern.findall(node.id))
        elif isinstance(node, ast.Attribute):
            found.update(pattern.findall(node.attr))
    return found


def test_the_check_sees_a_skill_name():
    names = ['GO', 'GRAB']
    assert skill_names_in_code("x = catalog.get('GO')\n", names) == {'GO'}
    assert skill_names_in_code('x = "GRAB(where:$x)"\n', names) == {'GRAB'}
    assert skill_names_in_code('"""Uses GO."""\n# GRAB\nx = "GOAL"\n', names) == set()


def test_no_skill_name_in_the_package():
    catalog = SkillCatalog.load(ROOT / 'config' / 'skills.yaml')
    offenders = {}
    for path in sorted(PACKAGE.rglob('*.py')):
        if path.name in TEST_MODELS:
            continue
        found = skill_names_in_code(path.read_text(encoding='utf-8'), catalog.names)
        if found:
            offenders[os.path.relpath(path, ROOT)] = sorted(found)
    assert not offenders, f'skill names in code (put them in skills.yaml): {offenders}'
