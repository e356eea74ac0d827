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
The package's layout: which folder may import what, and how long a file may be.

* ROS (rclpy and the message packages) only in ``llm_planner/ros/`` and
  ``llm_planner/sim/``: the planner, the executor and the CLI's planning run
  without a ROS graph (the CLI's ROS client is ``ros/client.py``).
* llama.cpp (``llama_cpp``) only in the backends and the decoding modules.
* No file over MAX_LINES lines, but for the listed exceptions.

Every import counts, a function's lazy ``import`` too.
"""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'llm_planner'

# Top-level modules that exist only in a ROS installation.
ROS_MODULES = ('rclpy', 'rcl_interfaces', 'action_msgs', 'builtin_interfaces',
               'diagnostic_msgs', 'geometry_msgs', 'std_msgs', 'llm_planner_interfaces')
# Where they may be imported (folders of the package).
ROS_FOLDERS = ('ros', 'sim')

# Where llama_cpp may be imported: one list, folders and files of the package.
LLAMA_ALLOWED = ('backends/', 'decoding/')

MAX_LINES = 500
# Files over MAX_LINES for now (none: keep the list, and the check, for the next one).
# Each leaves this list once split (test_the_exceptions_are_still_needed).
OVER_THE_LIMIT = ()

# The one owner of the llama.cpp state. It guards the bookkeeping of the KV
# cache: when two modules write Llama.n_tokens / input_ids or remove KV cells,
# each must know what the other did (three did, and one forgot: issue 11). So
# only this file may touch the KV cache, those two attributes,
# llama-cpp-python's private attributes or llama.cpp's C API; the decoders, the
# segment cache, the state file cache and the backend call its methods.
LLAMA_STATE_OWNER = 'decoding/session.py'
# Attribute names that reach into the state: what sequence 0 holds, the raw
# context and model, llama-cpp-python's private fields and low-level calls.
LLAMA_STATE_ATTRIBUTES = frozenset((
    'n_tokens', 'input_ids', '_input_ids', 'ctx', '_ctx', '_model', '_batch',
    '_requires_eval', '_is_recurrent', '_is_hybrid', 'kv_cache_seq_rm', 'eval',
    'llama_cpp'))
# Names of llama.cpp's C API as llama_cpp exports them: llama_decode, llama_memory_*,
# llama_state_*, llama_sampler_*, llama_batch_*, LLAMA_TOKEN_ATTR_*, ...
LLAMA_C_API_PREFIXES = ('llama_', 'LLAMA_')


def _sources():
    return sorted(PACKAGE.rglob('*.py'))


def _relative(path):
    return path.relative_to(PACKAGE).as_posix()


def _imports(path):
    """Return the top-level module names ``path`` imports, with their line numbers."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split('.')[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split('.')[0], node.lineno))
    return found


def _violations(modules, allowed):
    out = []
    for path in _sources():
        rel = _relative(path)
        if allowed(rel):
            continue
        out += [f'{rel}:{line} imports {name}' for name, line in _imports(path)
                if name in modules]
    return out


def test_the_sources_are_found():
    names = {_relative(p) for p in _sources()}
    assert {'ros/node.py', 'sim/sim_robot.py', 'planning/planner.py', 'execution.py'} <= names


def test_ros_is_imported_only_in_ros_and_sim():
    problems = _violations(ROS_MODULES, lambda rel: rel.split('/')[0] in ROS_FOLDERS)
    assert not problems, 'ROS outside llm_planner/ros and llm_planner/sim:\n' + \
        '\n'.join(problems)


def test_llama_cpp_is_imported_only_in_the_backends_and_the_decoding_modules():
    problems = _violations(('llama_cpp',), lambda rel: any(
        rel.startswith(a) if a.endswith('/') else rel == a for a in LLAMA_ALLOWED))
    assert not problems, 'llama_cpp outside ' + ', '.join(LLAMA_ALLOWED) + ':\n' + \
        '\n'.join(problems)


def test_the_core_modules_load_no_ros():
    """Importing every module outside ros/ and sim/ loads no ROS module, even indirectly."""
    names = ['llm_planner.' + _relative(p)[:-3].replace('/', '.').removesuffix('.__init__')
             for p in _sources() if _relative(p).split('/')[0] not in ROS_FOLDERS]
    names = [n for n in names if n != 'llm_planner.__init__']
    code = ('import importlib, sys\n'
            f'for name in {names!r}:\n'
            '    importlib.import_module(name)\n'
            f'print(sorted(m for m in sys.modules if m.split(".")[0] in {ROS_MODULES!r}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == '[]'


# What the loopback robot may use of the package: the plain helpers and the
# nodes' shared main (rclpy only), not the planner.
SIM_MAY_IMPORT = ('llm_planner.core.geometry', 'llm_planner.core.names',
                  'llm_planner.core.yaml_file', 'llm_planner.core.semantic_map', 'llm_planner.sim',
                  'llm_planner.ros.spin', 'llm_planner_interfaces')


def test_the_sim_uses_only_the_plain_helpers():
    problems = []
    for path in sorted((PACKAGE / 'sim').rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            problems += [f'{_relative(path)}:{node.lineno} imports {name}' for name in names
                         if name.startswith('llm_planner') and not any(
                             name == m or name.startswith(m + '.') for m in SIM_MAY_IMPORT)]
    assert not problems, '\n'.join(problems)


# The one YAML loader, and the call sites still to move to it (issue 10's prompt.py).
YAML_LOADER = 'core/yaml_file.py'
YAML_PENDING = ()


def test_yaml_files_are_parsed_only_by_the_loader():
    problems = []
    for path in _sources():
        rel = _relative(path)
        if rel in (YAML_LOADER,) + YAML_PENDING:
            continue
        tree = ast.parse(path.read_text(encoding='utf-8'))
        problems += [f'{rel}:{node.lineno} calls yaml.{node.func.attr}'
                     for node in ast.walk(tree)
                     if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                     and isinstance(node.func.value, ast.Name) and node.func.value.id == 'yaml'
                     and node.func.attr.startswith(('load', 'safe_load', 'full_load'))]
    assert not problems, f'YAML parsed outside llm_planner/{YAML_LOADER}:\n' + \
        '\n'.join(problems)


def _llama_state_uses(path):
    """Return 'line: what' for each touch of the llama.cpp state in ``path``."""
    tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in LLAMA_STATE_ATTRIBUTES:
                found.append(f'{node.lineno}: .{node.attr}')
            elif (node.attr.startswith(LLAMA_C_API_PREFIXES) and isinstance(node.value, ast.Name)
                  and node.value.id == 'llama_cpp'):
                found.append(f'{node.lineno}: llama_cpp.{node.attr}')
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('llama_cpp'):
            found += [f'{node.lineno}: from {node.module} import {a.name}' for a in node.names
                      if a.name.startswith(LLAMA_C_API_PREFIXES) or node.module != 'llama_cpp'
                      and node.module.split('.')[1] in ('llama_cpp', '_internals')]
    return found


def test_only_the_session_touches_the_llama_cpp_state():
    problems = []
    for path in _sources():
        rel = _relative(path)
        if rel != LLAMA_STATE_OWNER:
            problems += [f'{rel}:{use}' for use in _llama_state_uses(path)]
    assert not problems, f'llama.cpp state touched outside llm_planner/{LLAMA_STATE_OWNER}:\n' + \
        '\n'.join(problems)


def test_the_state_check_finds_what_it_guards(tmp_path):
    """The check sees each kind of touch (a check that finds nothing proves nothing)."""
    sample = tmp_path / 'sample.py'
    sample.write_text('import llama_cpp\n'
                      'from llama_cpp import llama_decode\n'
                      'from llama_cpp.llama_cpp import llama_batch_init\n'
                      'def f(llm, mem):\n'
                      '    llm.n_tokens = 0\n'
                      '    llm.input_ids[:1] = [1]\n'
                      '    llama_cpp.llama_memory_seq_rm(mem, 0, 1, -1)\n'
                      '    return llm._ctx, llm._model.vocab, llm.ctx, llm.eval([1])\n'
                      'def g(session):\n'
                      '    return session.run([1]), session.logits(-1), llama_cpp.Llama\n')
    uses = _llama_state_uses(sample)
    assert [u.split(':')[0] for u in uses].count('2') == 1
    assert [u.split(':')[0] for u in uses].count('3') == 1
    assert {u.split(': ', 1)[1] for u in uses if not u.startswith(('2:', '3:'))} == {
        '.n_tokens', '.input_ids', 'llama_cpp.llama_memory_seq_rm', '._ctx', '._model', '.ctx',
        '.eval'}
    owner = _llama_state_uses(PACKAGE / LLAMA_STATE_OWNER)
    assert any('llama_cpp.llama_decode' in u for u in owner)
    assert any('.n_tokens' in u for u in owner)


def test_no_file_is_over_the_line_limit():
    problems = []
    for path in _sources():
        rel = _relative(path)
        lines = len(path.read_text(encoding='utf-8').splitlines())
        if lines > MAX_LINES and rel not in OVER_THE_LIMIT:
            problems.append(f'{rel}: {lines} lines (at most {MAX_LINES})')
    assert not problems, '\n'.join(problems)


def test_the_node_file_is_thin():
    lines = len((PACKAGE / 'ros' / 'node.py').read_text(encoding='utf-8').splitlines())
    assert lines < 300, f'ros/node.py has {lines} lines'


def test_the_exceptions_are_still_needed():
    """An exception left after its file was split hides the next growth: remove it."""
    for rel in OVER_THE_LIMIT:
        path = PACKAGE / rel
        assert path.is_file(), f'{rel} is listed in OVER_THE_LIMIT but does not exist'
        lines = len(path.read_text(encoding='utf-8').splitlines())
        assert lines > MAX_LINES, f'{rel} has {lines} lines now: remove it from OVER_THE_LIMIT'
