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

"""Place-name resolution on the semantic map."""

import pathlib

from llm_planner.core.semantic_map import MapError, SemanticMap
import pytest

CONFIG = pathlib.Path(__file__).resolve().parent.parent / 'config'


@pytest.fixture(scope='module')
def semantic_map():
    return SemanticMap.load(CONFIG / 'locations.yaml')


@pytest.mark.parametrize('said, place', [
    ('kitchen', 'kitchen'), ('The Kitchen', 'kitchen'), ('living room', 'living_room'),
    ('la cuisine', 'kitchen'), ('cuisine', 'kitchen'), ('entrée', 'entrance'),
    ("l'entree", 'entrance'), ('l\u2019entrée', 'entrance'), ('salle de bain', 'bathroom'),
    ('front-door', 'entrance'),
])
def test_names_aliases_accents_and_articles_resolve(semantic_map, said, place):
    assert semantic_map.resolve(said).name == place


@pytest.mark.parametrize('said', ['garage', 'kitchens', '', 'the', 'attic kitchen'])
def test_other_names_do_not_resolve(semantic_map, said):
    assert semantic_map.resolve(said) is None


def test_an_alias_used_twice_is_refused():
    with pytest.raises(MapError, match='used twice'):
        SemanticMap.from_dict({'locations': {
            'kitchen': {'x': 0, 'y': 0, 'aliases': ['cuisine']},
            'pantry': {'x': 1, 'y': 0, 'aliases': ['Cuisine']}}})
