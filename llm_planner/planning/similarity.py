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
How alike two tasks are, for picking the examples a prompt shows.

Bags of words and word pairs (function words out, place names folded to one
token, a few cue words kept), weighted by inverse document frequency over the
example bank, compared by cosine similarity.
"""

from collections import Counter
import math
import re

from llm_planner.core.names import fold_accents

# Function words that say nothing about the shape of a plan (English, French).
STOPWORDS = frozenset(
    'the a an to of in on at from into is are it its that this these those my your our '
    'there please will would could can you do '
    'le la les l un une des de du d dans au aux mon ma mes ton ta tes qui est sont en sur '
    'y ce cette ces il elle'.split())
PLACE_TOKEN = 'zplacez'


def place_pattern(semantic_map):
    """Return a regex matching the map's place names and aliases as whole words."""
    if semantic_map is None or not len(semantic_map):
        return None
    names = set()
    for place in semantic_map.places:
        for name in (place.name,) + tuple(place.aliases):
            names.add(fold_accents(name).replace('_', ' '))
    alternatives = sorted((re.escape(n).replace(r'\ ', r'[\s_-]+') for n in names),
                          key=len, reverse=True)
    return re.compile(r'\b(?:' + '|'.join(alternatives) + r')\b')


# Words that say what shape a plan takes, English and French (accents folded):
# one feature per kind, so that a task picks examples of its own kind even
# when they share no other word with it.
CUES = {
    'back': frozenset('bring brings fetch back return here me give hand need apporte apporter '
                      'ramene ramener rapporte moi reviens revenir donne'.split()),
    'find': frozenset('find look locate search where check see whether cherche chercher '
                      'trouve trouver ou regarde verifie'.split()),
    'take': frozenset('take grab pick get carry prends prendre attrape ramasse recupere '
                      'saisis'.split()),
}


def features(text, places=None):
    """
    Return the bag of features of a task: what its plan's shape depends on.

    Words (without function words; the known places all become one token, so
    the place named does not decide which examples are picked), pairs of
    neighbouring words ("bring me", "come back"), the kinds of cue words the
    task holds (:data:`CUES`), how many known places it names, and the
    character trigrams of longer words (inflections, French forms), at a low
    weight.
    """
    text = fold_accents(text)
    if places is not None:
        text = places.sub(f' {PLACE_TOKEN} ', text)
    all_words = re.findall(r'[^\W_]+', text)
    words = [w for w in all_words if w not in STOPWORDS]
    bag = Counter('w:' + w for w in words)
    bag.update('k:' + kind for kind, cue in CUES.items() if cue.intersection(all_words))
    bag['k:places%d' % min(2, words.count(PLACE_TOKEN))] = 1
    bag.update('b:' + a + '_' + b for a, b in zip(words, words[1:]))
    trigrams = Counter()
    for w in words:
        if len(w) >= 5 and w != PLACE_TOKEN:
            padded = f' {w} '
            trigrams.update('c:' + padded[i:i + 3] for i in range(len(padded) - 2))
    for f, c in trigrams.items():
        bag[f] = 0.3 * c
    return bag


class SimilarityIndex:
    """TF-IDF cosine similarity of a query to a fixed list of texts."""

    def __init__(self, texts, places=None):
        self._places = places
        bags = [features(t, places) for t in texts]
        df = Counter()
        for bag in bags:
            df.update(bag.keys())
        n = len(bags)
        self._idf = {f: math.log((1 + n) / (1 + d)) + 1.0 for f, d in df.items()}
        self._default_idf = math.log(1 + n) + 1.0
        self._vectors = [self._vector(bag) for bag in bags]

    def _vector(self, bag):
        vec = {f: (1 + math.log(c) if c >= 1 else c) * self._idf.get(f, self._default_idf)
               for f, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {f: v / norm for f, v in vec.items()}

    def scores(self, text):
        """Return the cosine similarity of ``text`` to every indexed text."""
        query = self._vector(features(text, self._places))
        return [sum(v * doc.get(f, 0.0) for f, v in query.items()) for doc in self._vectors]


__all__ = ['SimilarityIndex', 'features', 'place_pattern']
