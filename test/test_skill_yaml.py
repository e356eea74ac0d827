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

from llm_planner.backends.base import Backend, Completion
from llm_planner.core.catalog import SkillCatalog
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import parse_program
from llm_planner.core.validator import validate
from llm_planner.planning.config import PlannerConfig
from llm_planner.planning.grammar import build_gbnf
from llm_planner.planning.planner import Planner
from llm_planner.planning.prompt import PromptBuilder
import pytest
import yaml

pytest_plugins = ['planning_fixtures']

NEW_SKILLS = [
    {'name': 'PLACE', 'description': 'Put down the object the robot holds at some coordinates',
     'verbs': ['put', 'place', 'put down', 'drop', 'leave'],
     'usage': ['Put an object somewhere: take it, go there, then PLACE(where:$kitchen).'],
     'args': [{'name': 'where', 'type': 'LOCATION', 'description': 'where to put it'}]},
    {'name': 'SAY', 'description': 'Say a sentence out loud', 'verbs': ['say', 'tell'],
     'args': [{'name': 'text', 'type': 'STRING', 'description': 'the sentence'}]},
]
PUT_PLAN = """$cup = SEARCH(object_name:"cup")
GRAB(where:$cup)
$kitchen = GET_LOCATION(location_name:"kitchen")
GO(to:$kitchen)
PLACE(where:$kitchen)"""


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
    assert [(a.name, a.type) for a in new_catalog.get('PLACE').args] == [('where', 'LOCATION')]
    assert [(a.name, a.type) for a in new_catalog.get('SAY').args] == [('text', 'STRING')]


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


class ScriptedBackend(Backend):
    """Answers from a script: the planner's logic around the model, not the model."""

    name = 'scripted'

    def __init__(self, answers):
        self.answers = list(answers)
        self.grammars = []

    def load(self):
        pass

    def warm(self, prefix_text):
        pass

    def complete(self, prompt, grammar, max_tokens, deadline=None):
        self.grammars.append(grammar)
        text = self.answers.pop(0)
        return Completion(text, len(text) // 4 + 1, len(prompt) // 4, 0.01)

    def chat_template_prompt(self, messages):
        return None


def test_a_skill_added_by_yaml_alone_is_planned_with(config_dir):
    # The same answers: with PLACE in the YAML the task is planned with it;
    # without, "put" is an action no skill does and the task is refused.
    answers = ['DO: find, take, go, put\n', PUT_PLAN]
    new = Planner(PlannerConfig.from_dict({}, config_dir), backend=ScriptedBackend(answers))
    new.load()
    result = new.plan('Put the cup in the kitchen')
    assert result.program == PUT_PLAN
    assert 'call-place' in new.plan_grammar
    assert 'go, find, take, put, say, come back' in new.prefix
    assert 'PLACE(where:$kitchen)' in new.prefix  # its usage rule
    old = Planner(PlannerConfig(), backend=ScriptedBackend(answers))
    old.load()
    with pytest.raises(PlannerError) as info:
        old.plan('Put the cup in the kitchen')
    assert info.value.code == ErrorCode.UNSUPPORTED_TASK
    assert info.value.message.startswith("no skill can 'put'")


def test_bank_examples_follow_the_catalog(new_catalog, catalog, semantic_map, examples):
    # "Put the book on the shelf" is refused in the bank (do: find, take, put):
    # with PLACE it would teach the model to refuse what the robot now does.
    put = [e for e in examples if e.task == 'Put the book on the shelf']
    assert put and put[0].program == 'ERROR'
    before = PromptBuilder(catalog, semantic_map, examples, num_examples=6)
    after = PromptBuilder(new_catalog, semantic_map, examples, num_examples=6)
    assert put[0] in before.pool and put[0] not in after.pool

    def refused_verbs(system):
        return system.split('(e.g. ')[1].split(')')[0].split(', ')
    assert 'put' in refused_verbs(before.system)
    assert 'put' not in refused_verbs(after.system) and 'cook' in refused_verbs(after.system)


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
                    # INVALID_PLAN: a literal of bytes that are not UTF-8 (see
                    # test_tiny_model_plans_always_validate in test_grammar.py).
                    assert e.code == ErrorCode.UNSUPPORTED_TASK or (
                        e.code == ErrorCode.INVALID_PLAN and '\ufffd' in e.raw_output), (task, e)
                    continue
                validate(result.steps, planner.catalog, planner.semantic_map, max_steps=4)
                used.update(step.function for step in result.steps)
        finally:
            planner.close()
    assert used, 'the tiny model never wrote a plan'
