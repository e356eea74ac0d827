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
Name folding: the steps that make two spellings of a name compare equal (plain Python).

Each step is written once; a folding function of the package is a chain of
them: :func:`llm_planner.core.semantic_map.normalize_place_name` is
``underscore_blanks(drop_article(fold_accents(name)))``, the loopback robot's
object and place names are ``snake_name(name)``.
"""

import re
import unicodedata

_BLANKS = re.compile(r'[\s\-]+')
_ARTICLE = re.compile(r"^(the|la|le|les)\s+|^l['\u2019]\s*")


def fold_accents(text):
    """Lower-case, trim and strip accents: ``' Café '`` -> ``'cafe'``."""
    text = unicodedata.normalize('NFKD', str(text).strip().lower())
    return ''.join(c for c in text if not unicodedata.combining(c))


def drop_article(text):
    """Drop a leading English or French article of folded text: ``"l'entree"`` -> ``'entree'``."""
    return _ARTICLE.sub('', text)


def underscore_blanks(text):
    """Replace each run of blanks and hyphens with one ``_``."""
    return _BLANKS.sub('_', text)


def snake_name(name):
    """Lower-case, trim, blanks and hyphens to ``_``: ``'Living Room'`` -> ``'living_room'``."""
    return underscore_blanks(str(name).strip().lower())
