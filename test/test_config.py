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
"""PlannerConfig: defaults, the ROS parameters file, checks, path resolution."""

import dataclasses
import os

from llm_planner.planning.config import default_config_dir, FIELD_NAMES, FIELDS, PlannerConfig
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
PLANNER_YAML = os.path.join(REPO, 'config', 'planner.yaml')


def write_params(path, params, node='llm_planner'):
    path.write_text(yaml.safe_dump({node: {'ros__parameters': params}}))
    return str(path)


def test_fields_match_the_dataclass_and_its_defaults():
    names = tuple(f.name for f in dataclasses.fields(PlannerConfig) if f.name != 'config_dir')
    assert names == FIELD_NAMES
    defaults = PlannerConfig()
    types = {f.name: f.type for f in dataclasses.fields(PlannerConfig)}
    for f in FIELDS:
        assert getattr(defaults, f.name) == f.default, f.name
        assert types[f.name] is f.type, f.name
        assert isinstance(f.default, f.type), f.name
        assert f.description


def test_defaults_equal_planner_yaml():
    with open(PLANNER_YAML, encoding='utf-8') as f:
        params = yaml.safe_load(f)['llm_planner']['ros__parameters']
    planning = {k: v for k, v in params.items() if k in FIELD_NAMES}
    assert set(planning) == set(FIELD_NAMES)
    for name, value in planning.items():
        assert getattr(PlannerConfig(), name) == value, name
    assert PlannerConfig.from_yaml(PLANNER_YAML) == PlannerConfig()


def test_from_yaml_ignores_unknown_keys_and_takes_the_first_node(tmp_path):
    path = tmp_path / 'p.yaml'
    path.write_text(yaml.safe_dump({
        '/**': {'ros__parameters': {'max_steps': 5, 'autostart': True, 'pose_topic': '/x'}},
        'other_node': {'ros__parameters': {'max_steps': 9}},
    }))
    config = PlannerConfig.from_yaml(str(path))
    assert config.max_steps == 5
    assert config.config_dir == str(tmp_path)


def test_relative_paths(tmp_path, monkeypatch):
    path = write_params(tmp_path / 'p.yaml', {'skills_file': 'sub/skills.yaml',
                                              'examples_file': '/abs/examples.yaml',
                                              'model_path': 'models/m.gguf'})
    config = PlannerConfig.from_yaml(path)
    assert config.skills_path == str(tmp_path / 'sub' / 'skills.yaml')
    assert config.locations_path == str(tmp_path / 'locations.yaml')
    assert config.examples_path == '/abs/examples.yaml'
    monkeypatch.chdir(tmp_path)
    assert config.model_file == str(tmp_path / 'models' / 'm.gguf')


def test_default_config_dir_has_the_config_files():
    config = PlannerConfig()
    for path in (config.skills_path, config.locations_path, config.examples_path):
        assert os.path.isfile(path), path
    assert os.path.dirname(config.skills_path) == default_config_dir()
    assert PlannerConfig.from_dict({}, None).skills_path == config.skills_path


def test_from_dict_converts_and_checks_types():
    config = PlannerConfig.from_dict({'planning_timeout': 5, 'strict_places': 'true',
                                      'http_model': None, 'unknown': object()}, '/tmp')
    assert config.planning_timeout == 5.0 and isinstance(config.planning_timeout, float)
    assert config.strict_places is True
    assert config.http_model == ''
    assert config.skills_path == '/tmp/skills.yaml'
    for bad in ({'n_ctx': '4096'}, {'n_ctx': 4096.0}, {'max_steps': True},
                {'planning_timeout': 'soon'}, {'strict_places': 1}, {'backend': 3}):
        with pytest.raises(ValueError):
            PlannerConfig.from_dict(bad)


@pytest.mark.parametrize('changes, words', [
    ({'backend': 'gpu'}, 'backend'),
    ({'n_ctx': 255}, 'n_ctx'),
    ({'n_threads': -1}, 'n_threads'),
    ({'n_gpu_layers': -2}, 'n_gpu_layers'),
    ({'decode_batch': -1}, 'decode_batch'),
    ({'planning_timeout': -1.0}, 'planning_timeout'),
    ({'planning_timeout': 0.0}, 'planning_timeout'),
    ({'http_connect_timeout': -0.5}, 'http_connect_timeout'),
    ({'http_read_timeout': -3.0}, 'http_read_timeout'),
    ({'num_examples': -1}, 'num_examples'),
    ({'max_steps': 0}, 'max_steps'),
    ({'max_task_chars': 0}, 'max_task_chars'),
    ({'max_tokens': 0}, 'max_tokens'),
    ({'skills_file': ''}, 'skills_file'),
    ({'model_path': ''}, 'model_path'),
    ({'backend': 'http', 'http_url': ' '}, 'http_url'),
])
def test_validate_refuses_bad_values(changes, words):
    with pytest.raises(ValueError) as info:
        PlannerConfig(**changes).validate()
    assert words in str(info.value)
    with pytest.raises(ValueError):
        PlannerConfig.from_dict(changes)


def test_valid_edge_values():
    PlannerConfig(n_ctx=256, n_gpu_layers=-1, num_examples=0, max_steps=1).validate()
    PlannerConfig(backend='http', model_path='').validate()


def test_from_yaml_errors_name_the_file(tmp_path):
    missing = tmp_path / 'missing.yaml'
    with pytest.raises(ValueError) as info:
        PlannerConfig.from_yaml(str(missing))
    assert 'missing.yaml' in str(info.value)
    bad = tmp_path / 'bad.yaml'
    for text in ('a: [', 'just text', 'node: {params: {}}', 'node: {ros__parameters: 3}'):
        bad.write_text(text)
        with pytest.raises(ValueError) as info:
            PlannerConfig.from_yaml(str(bad))
        assert 'bad.yaml' in str(info.value)
    path = write_params(tmp_path / 'range.yaml', {'n_ctx': 10})
    with pytest.raises(ValueError) as info:
        PlannerConfig.from_yaml(path)
    assert 'range.yaml' in str(info.value) and 'n_ctx' in str(info.value)


def test_replace_checks_and_to_dict():
    config = PlannerConfig().replace(max_steps=4)
    assert config.max_steps == 4
    assert config.to_dict()['max_steps'] == 4
    assert set(config.to_dict()) == set(FIELD_NAMES)
    with pytest.raises(ValueError):
        PlannerConfig().replace(max_steps=0)


def test_values_out_of_bounds_are_refused():
    import math
    for name, value in (('n_ctx', 2 ** 40), ('n_threads', 100000), ('max_task_chars', 10 ** 9),
                        ('planning_timeout', math.inf), ('http_read_timeout', math.nan),
                        ('max_tokens', 10 ** 7), ('decode_batch', 10 ** 6),
                        ('num_examples', 1000), ('max_steps', 10 ** 6),
                        ('n_gpu_layers', 10 ** 9)):
        with pytest.raises(ValueError) as error:
            PlannerConfig.from_dict({name: value})
        assert name in str(error.value)
    assert PlannerConfig.from_dict({'n_ctx': 1 << 20, 'n_threads': 512}).n_threads == 512
