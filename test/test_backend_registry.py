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
Backends by name: a backend is one file plus one line (llm_planner/backends/registry.py).

Here the file is this test and the line its ``register`` call: the planner,
the config check and the node's model label find the backend by name alone.
"""

from llm_planner.backends import registry
from llm_planner.backends.base import Backend, Completion
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.program import Step
from llm_planner.planning.config import PlannerConfig
from llm_planner.planning.planner import Planner
import pytest

ANSWERS = ['DO: go\n', '$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)\n']


class StubBackend(Backend):
    """Answers from a list; records what the factory was given."""

    name = 'stub'

    def __init__(self, config, hints):
        self.config = config
        self.hints = hints
        self.answers = list(ANSWERS)
        self.loaded = False

    def load(self):
        self.loaded = True

    def warm(self, prefix_text):
        pass

    def complete(self, prompt, grammar, max_tokens, deadline=None):
        text = self.answers.pop(0)
        return Completion(text, len(text), len(prompt), 0.01)

    def chat_template_prompt(self, messages):
        return None


@pytest.fixture
def stub():
    made = []

    def from_config(config, **hints):
        made.append(StubBackend(config, hints))
        return made[-1]
    registry.register('stub', from_config, describe=lambda config: 'stub model')
    yield made
    registry.unregister('stub')


def test_a_backend_registered_from_a_test_plans(stub):
    assert 'stub' in registry.names() and {'llama', 'http'} <= set(registry.names())
    config = PlannerConfig.from_dict({'backend': 'stub'})
    planner = Planner(config)  # no backend given: the registry makes it
    planner.load()
    try:
        [backend] = stub
        assert planner.backend is backend and backend.loaded and backend.config is config
        result = planner.plan('Go to the kitchen')
    finally:
        planner.close()
    assert result.steps == [Step('GET_LOCATION', (('location_name', 'kitchen'),), '$kitchen'),
                            Step('GO', (('to', '$kitchen'),))]
    assert set(backend.hints) == {'guess', 'max_segments'}
    assert registry.describe(config) == 'stub model'


def test_an_unknown_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError) as info:
        PlannerConfig.from_dict({'backend': 'stub'})
    assert "got 'stub'" in str(info.value) and 'http, llama' in str(info.value)


def test_the_built_in_backends_are_made_from_the_config(tmp_path):
    config = PlannerConfig.from_dict({'backend': 'http', 'http_url': 'http://127.0.0.1:9'})
    backend = registry.create(config, guess=None, max_segments=0)
    assert backend.name == 'http' and registry.describe(config) == 'http://127.0.0.1:9'
    missing = PlannerConfig.from_dict({'model_path': str(tmp_path / 'none.gguf')})
    with pytest.raises(PlannerError) as info:
        registry.create(missing)
    assert info.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert registry.describe(missing) == str(tmp_path / 'none.gguf')
