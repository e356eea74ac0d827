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
"""Unit tests of llm_planner.core.yaml_file, the one YAML loader, and its users' messages."""

from llm_planner.core.semantic_map import MapError, SemanticMap
from llm_planner.core.yaml_file import load_yaml_as, read_yaml, YamlFileError
from llm_planner.planning.config import PlannerConfig
from llm_planner.sim.world import load_world, WorldError
import pytest


class BuildError(ValueError):
    pass


def test_read_yaml_returns_the_document(tmp_path):
    path = tmp_path / 'a.yaml'
    path.write_text('a: [1, 2]\nb: é\n', encoding='utf-8')
    assert read_yaml(path) == {'a': [1, 2], 'b': 'é'}


@pytest.mark.parametrize('content, not_yaml', [
    (None, False),                      # missing
    (b'a: \xff\xfe\n', False),          # not UTF-8
    (b'a: [1, 2\n', True),              # not YAML
    (b'a: !!python/object:os.system {}\n', True),  # no Python objects from a file
])
def test_read_yaml_failures_are_one_error(tmp_path, content, not_yaml):
    path = tmp_path / 'bad.yaml'
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(YamlFileError) as e:
        read_yaml(path)
    assert e.value.path == path and e.value.not_yaml is not_yaml
    assert str(path) in str(e.value)


def test_load_yaml_as_names_the_file_in_the_callers_error(tmp_path):
    path = tmp_path / 'thing.yaml'
    path.write_text('n: 3\n', encoding='utf-8')
    assert load_yaml_as(path, lambda d: d['n'] * 2, BuildError, 'thing') == 6

    def refuse(data):
        raise BuildError('n must be even')
    with pytest.raises(BuildError, match=f'^{path}: n must be even$'):
        load_yaml_as(path, refuse, BuildError, 'thing')
    with pytest.raises(BuildError, match=f'^cannot read thing {tmp_path / "none.yaml"}: '):
        load_yaml_as(tmp_path / 'none.yaml', refuse, BuildError, 'thing')


def test_the_loaders_messages(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('a: [1\n', encoding='utf-8')
    missing = tmp_path / 'missing.yaml'
    with pytest.raises(MapError, match=f'^cannot read semantic map {bad}: '):
        SemanticMap.load(bad)
    with pytest.raises(ValueError, match=f'^cannot read planner config {missing}: '):
        PlannerConfig.from_yaml(missing)
    with pytest.raises(WorldError, match=f'^world file {bad} is not valid YAML: '):
        load_world(bad)
    with pytest.raises(WorldError, match=f'^cannot read world file {missing}: No such file'):
        load_world(missing)
    latin = tmp_path / 'latin.yaml'
    latin.write_bytes(b'locations:\n  caf\xe9: {x: 1, y: 2}\n')
    # Before: a bare UnicodeDecodeError.
    with pytest.raises(MapError, match='^cannot read semantic map'):
        SemanticMap.load(latin)
