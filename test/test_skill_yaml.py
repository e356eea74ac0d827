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
"""Adding a skill is a YAML edit: prompt, grammar, validator and planner follow."""

import os
import shutil

from llm_planner.catalog import SkillCatalog
from llm_planner.errors import ErrorCode, PlannerError
from llm_planner.grammar import build_gbnf
from llm_planner.planner import Planner
from llm_planner.program import parse_program
from llm_planner.prompt import PromptBuilder
from llm_planner.validator import validate
import pytest
import yaml

pytest_plugins = ['planning_fixtures']

NEW_SKILLS = [
    {'name': 'PLACE', 'description': 'Put down the object the robot holds at some coordinates',
     'args': [{'name': 'where', 'type': 'LOCATION', 'description': 'where to put it'}]},
    {'name': 'SAY', 'description': 'Say a sentence out loud',
     'args': [{'name': 'text', 'type': 'STRING', 'description': 'the sentence'}]},
]


@pytest.fixture(scope='module')
def config_dir(tmp_path_factory):
    """Return a config directory: the default files, PLACE and SAY added to skills.yaml."""
    repo_config = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))),
                               'config')
    out = tmp_path_factory.mktemp('config_with_new_skills')
    for name in ('locations.yaml', 'examples.yaml', 'planner.yaml'):
        shutil.copy(os.path.join(repo_config, name), out / name)
    with open(os.path.join(repo_config, 'skills.yaml'), encoding='utf-8') as f:
        data = yaml.safe_load(f)
    data['skills'] += NEW_SKILLS
    with open(out / 'skills.yaml', 'w', encoding='utf-8') as f:
        yaml.safe_dump(data, f, sort_keys=False)
    return str(out)


@pytest.fixture(scope='module')
def new_catalog(config_dir):
    return SkillCatalog.load(os.path.join(config_dir, 'skills.yaml'))


def test_catalog_has_the_new_skills(new_catalog):
    assert new_catalog.names[-2:] == ['PLACE', 'SAY']
    assert new_catalog.get('PLACE').signature() == 'PLACE(where: LOCATION)'
    assert new_catalog.get('SAY').signature() == 'SAY(text: STRING)'


def test_prompt_lists_the_new_skills(new_catalog, semantic_map, examples):
    builder = PromptBuilder(new_catalog, semantic_map, examples, num_examples=2)
    prompt = builder.build('Put the cup in the kitchen and say done')
    assert '- PLACE(where: LOCATION): Put down the object the robot holds' in prompt
    assert '- SAY(text: STRING): Say a sentence out loud' in prompt
    assert prompt.startswith(builder.prefix())


def test_grammar_admits_the_new_skills(new_catalog, semantic_map):
    text = build_gbnf(new_catalog, semantic_map, max_steps=8)
    assert 'call-place ::= "PLACE(" "where:" location-value ")"' in text
    assert 'call-say ::= "SAY(" "text:" string-value ")"' in text
    assert 'call-place' in text.split('call ::=')[1].split('\n')[0]
    # Neither returns anything: they are calls, never assignments.
    assert 'call-place' not in text.split('assign ::=')[1].split('\n')[0]


def test_validator_accepts_the_new_skills(new_catalog, semantic_map):
    steps = parse_program("""$cup = SEARCH(object_name:"cup")
GRAB(where:$cup)
$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
PLACE(where:$kitchen)
SAY(text:"done")""")
    validate(steps, new_catalog, semantic_map)
    with pytest.raises(PlannerError) as info:
        validate(parse_program('PLACE(where:"kitchen")'), new_catalog, semantic_map)
    assert info.value.code == ErrorCode.INVALID_PLAN
    with pytest.raises(PlannerError) as info:
        validate(parse_program('$x = SAY(text:"hi")'), new_catalog, semantic_map)
    assert info.value.code == ErrorCode.INVALID_PLAN


def test_tiny_model_plans_with_the_new_catalog(tiny_models, tiny_config, config_dir,
                                               planning_tasks):
    used = set()
    for i, path in enumerate(tiny_models):
        planner = Planner(tiny_config(path, config_dir=config_dir, strict_places=True))
        planner.load()
        try:
            assert planner.catalog.get('SAY') is not None
            assert 'SAY(' in planner.grammar
            for task in planning_tasks[i::len(tiny_models)]:
                try:
                    result = planner.plan(task)
                except PlannerError as e:
                    assert e.code == ErrorCode.UNSUPPORTED_TASK, (task, e)
                    continue
                validate(result.steps, planner.catalog, planner.semantic_map, max_steps=4)
                used.update(step.function for step in result.steps)
        finally:
            planner.close()
    assert used, 'the tiny model never wrote a plan'
