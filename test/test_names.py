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
"""Unit tests of llm_planner.core.names: the folding steps, and the two folds built from them."""

import random
import re
import unicodedata

from llm_planner.core.names import drop_article, fold_accents, snake_name, underscore_blanks
from llm_planner.core.semantic_map import normalize_place_name
from llm_planner.sim.world import normalize_name
import pytest


def _place_name_before(name):
    """normalize_place_name as written before the steps were shared (the reference)."""
    text = unicodedata.normalize('NFKD', str(name).strip().lower())
    text = ''.join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"^(the|la|le|les)\s+|^l['\u2019]\s*", '', text)
    return re.sub(r'[\s\-]+', '_', text)


def _world_name_before(name):
    return re.sub(r'[\s\-]+', '_', str(name).strip().lower())


@pytest.mark.parametrize('name, folded', [
    ('Living Room', 'living_room'), ("l'Entrée", 'entree'), ('the  kitchen', 'kitchen'),
    ('La Salle-de-bain', 'salle_de_bain'), ('Café\u0301 ', 'cafe'), ('theatre', 'theatre'),
    ('l\u2019office', 'office'), ('', ''),
])
def test_place_names(name, folded):
    assert normalize_place_name(name) == folded


def test_the_steps():
    assert fold_accents(' Crème BRÛLÉE ') == 'creme brulee'
    assert drop_article('les enfants') == 'enfants' and drop_article('lesson') == 'lesson'
    assert underscore_blanks('a - b\tc') == 'a_b_c'
    assert snake_name(' Living-Room ') == 'living_room'
    assert normalize_name is snake_name


def test_the_folds_are_unchanged_on_random_names():
    rng = random.Random(11)
    alphabet = "abcLTHE éèÉ\u0301\u00a0-\t'\u2019xyz"
    prefixes = ['', 'the ', 'The  ', 'la ', 'le ', 'les ', "l'", 'l\u2019 ', ' ']
    for _ in range(3000):
        name = rng.choice(prefixes) + ''.join(
            rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        assert normalize_place_name(name) == _place_name_before(name), repr(name)
        assert normalize_name(name) == _world_name_before(name), repr(name)
