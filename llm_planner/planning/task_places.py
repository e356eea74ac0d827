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
The places a task names, and the rule that a plan goes only there.

A robot must not drive somewhere nobody asked it to go. A place name in a
plan is therefore one the task itself gives:

* a place of the semantic map whose name or one of whose aliases the task
  says ("the lounge", "la buanderie");
* or, for a place that is not on the map, words the task says ("the wine
  cellar" -> ``wine_cellar``), which the validator then refuses with
  UNKNOWN_LOCATION, as it should.

A small model breaks this in recognisable ways: it guesses where an object
usually is ("fetch me the charger" -> the office) or mistranslates a place
the map knows ("buanderie" -> "basement"). The planner
(:mod:`llm_planner.planning.planner`) decodes such a line again under a grammar that
admits only the map's places the task names (:meth:`TaskPlaces.literals`;
none: the line cannot look a place up at all). A name not on the map that
is not the task's words is taken for a mistranslation only when the task
names a place of the map; otherwise it may be the task's own place said in
other words ("le jardin" -> "garden"), refused as UNKNOWN_LOCATION anyway.

And a place of the map that the task names but the plan never uses means the
plan stopped short ("take the basket to the kitchen" planned as a search and
a grab): :meth:`TaskPlaces.missing` returns it so the planner goes on.

All of it is matching words, folded like the round-trip rules fold them
(case, accents, punctuation); nothing here knows a skill or a language.
"""

from llm_planner.core.catalog import VALUES_LOCATIONS
from llm_planner.core.program import is_variable, Step
from llm_planner.planning.actions import task_words

# Words before a place ("in the attic", "from the garden", "au grenier").
PLACE_PREPOSITIONS = frozenset('in at from to into inside towards toward dans au aux vers a '
                               'du'.split())
# Words between such a word and the place ("the", "la", "my").
PLACE_DETERMINERS = frozenset('the my our your his her their this that le la l les mon ma '
                              'notre votre'.split())
# Words before where something is taken to ("to the kitchen", "a la cuisine").
DESTINATION_WORDS = ('to', 'into', 'a', 'au', 'jusqu a')
# Words before where something is taken from ("from the pantry", "de la cuisine").
SOURCE_WORDS = ('from', 'de', 'du', 'des')
# Words that end a place's name ("the garage and come back").
PLACE_END_WORDS = frozenset('and then or with for of on to in at from that which where who '
                            'now please first again too right immediately quickly today '
                            'et puis ou avec pour qui que dans sur sous maintenant vite stp '
                            'svp'.split())
# Words that name a kind of place, in English and French: a place said with
# one of them ("the wine cellar", "le grenier") that the map lacks is a place
# the robot does not know, not an object's whereabouts ("in the drawer").
PLACE_NOUNS = frozenset((
    'room rooms cellar basement attic garage garden yard backyard frontyard balcony terrace '
    'patio porch veranda roof rooftop pool shed gym library loft nursery playroom '
    'lobby den workshop studio conservatory greenhouse sauna driveway deck lawn courtyard '
    'barn stairs staircase stairwell upstairs downstairs cave grenier jardin balcon terrasse '
    'piscine toit cour bibliotheque chaufferie atelier salle chambre serre remise abri '
    'sous sol garde manger').split())


def phrase(name):
    """Return a place name as the task's folded words would say it: ' living room '."""
    return task_words(str(name).replace('_', ' '))


class TaskPlaces:
    """The places one task names, against one semantic map."""

    def __init__(self, task, semantic_map):
        self.semantic_map = semantic_map
        self.words = task_words(task)
        found = []
        for place in semantic_map.places:
            said = [p for p in (phrase(n) for n in (place.name,) + tuple(place.aliases))
                    if p.strip() and p in self.words]
            if said:
                found.append((min(self.words.find(p) for p in said), place.name, said))
        found.sort()
        self.named = [name for _, name, _ in found]
        self._said = {name: said for _, name, said in found}

    def allows(self, literal):
        """Return True when a place literal of a plan may be one the task names."""
        place = self.semantic_map.resolve(literal)
        if place is not None:
            return place.name in self._said
        if not self.named:
            return True
        words = phrase(literal).split()
        return bool(words) and all(f' {w} ' in self.words for w in words)

    def unknown(self):
        """
        Return the places the task says that the map lacks, as place names.

        A place is said after a preposition ("in the wine cellar", "au
        grenier"), and its last word is a word for a kind of place
        (:data:`PLACE_NOUNS`: "the garden hose" is a thing); the map's own
        places and aliases are never unknown. ``wine_cellar``, the name a plan would look up.
        """
        words = self.words.split()
        out = []
        for i, word in enumerate(words):
            if word not in PLACE_PREPOSITIONS:
                continue
            j = i + 1
            while j < len(words) and words[j] in PLACE_DETERMINERS:
                j += 1
            if j == i + 1 and word != 'au' and word != 'aux' and word != 'du':
                continue  # "in kitchen": no determiner, not read as a place
            name = []
            for k in range(j, min(j + 4, len(words))):
                if words[k] in PLACE_END_WORDS:
                    break
                name.append(words[k])
            window = ' ' + ' '.join(words[j:j + 5]) + ' '
            if any(p in window for said in self._said.values() for p in said):
                continue
            if not name or name[-1] not in PLACE_NOUNS or any(
                    self.semantic_map.resolve(' '.join(name[:n + 1])) for n in range(len(name))):
                continue  # "the garden hose", "the pool table": things, not places
            place = '_'.join(name)
            if place not in out:
                out.append(place)
        return out

    def said_after(self, words, prepositions=DESTINATION_WORDS):
        """Return the first of the map's places ``words`` name after a preposition, or None."""
        text = ' ' + ' '.join(words) + ' '
        best = None
        for name, said in self._said.items():
            for p in said:
                for prep in prepositions:
                    for det in ('', ' the', ' la', ' le', ' l', ' my'):
                        at = text.find(f' {prep}{det}{p}')
                        if at >= 0 and (best is None or at < best[0]):
                            best = (at, name)
        return best[1] if best else None

    def literals(self):
        """Return the place names a repaired line may write: the map's places the task names."""
        return list(self.named)

    def first_unasked(self, steps, place_args):
        """
        Return the index of the first step whose place the task does not name, or None.

        ``place_args(step)`` gives the place literals of a step.
        """
        for index, step in enumerate(steps):
            if any(not self.allows(value) for value in place_args(step)):
                return index
        return None

    def missing(self, steps, place_args, object_args):
        """
        Return the map's places the task names and the plan never uses, in task order.

        A place said only inside an object's name the plan uses ("the kitchen
        knife") is not missing. None is missing when the plan names a place
        not on the map: that plan is refused whole anyway.
        """
        used = set()
        for step in steps:
            for value in place_args(step):
                place = self.semantic_map.resolve(value)
                if place is None:
                    return []
                used.add(place.name)
        objects = ' '.join(phrase(v) for step in steps for v in object_args(step))
        return [name for name in self.named if name not in used
                and not any(p in f' {objects} ' for p in self._said[name])]


def step_literals(step, catalog, places=True):
    """Return a step's text literals: of its place arguments (``places``), else the others."""
    skill = catalog.get(step.function)
    if skill is None:
        return []
    out = []
    for name, value in step.args:
        arg = skill.arg(name)
        if (arg is not None and (arg.values == VALUES_LOCATIONS) == places
                and not is_variable(value)):
            out.append(value)
    return out


def add_lookups(steps, catalog, task_places):
    """
    Return ``steps`` with the lookup of a named place the plan goes to unlooked-up.

    ``GO(to:$bedroom)`` with no ``$bedroom`` stored before, in a task that
    names the bedroom, is the move to the bedroom without its lookup (the
    variables are named after their places): the map's lookup skill
    (``run: {kind: map}``, one place argument) stores it just before. Any
    other unassigned variable is left to the planner's repair.
    """
    lookup = next((s for s in catalog if s.is_map_lookup and s.returns
                   and len(s.args) == 1 and s.args[0].values == VALUES_LOCATIONS), None)
    if lookup is None:
        return steps
    out, assigned = [], set()
    for step in steps:
        skill = catalog.get(step.function)
        for name, value in step.args:
            arg = skill.arg(name) if skill is not None else None
            if (arg is None or arg.type != lookup.returns or not is_variable(value)
                    or value in assigned):
                continue
            place = task_places.semantic_map.resolve(value[1:])
            if place is not None and place.name == value[1:] and task_places.allows(place.name):
                out.append(Step(lookup.name, ((lookup.args[0].name, place.name),), value))
                assigned.add(value)
        out.append(step)
        if step.store_result:
            assigned.add(step.store_result)
    return out


def delivery_place(orders, task_places, move):
    """
    Return the place of the map an order takes something to, or None.

    ``orders`` are the task's (:func:`~llm_planner.planning.task_verbs.clause_orders`);
    ``move`` is the skill the round trip moves with. An order of another
    skill ("bring the towel to the bedroom", not "go to the bedroom") whose
    clause names a place after "to". None when the task also names where it
    is taken from ("bring the soap from the bathroom to the kitchen"): the
    plan goes there first, and the rule on the decoded plan
    (:func:`delivers_then_returns`) ends it at the place delivered to.
    """
    if task_places.said_after(task_places.words.split(), SOURCE_WORDS) is not None:
        return None
    for order in orders:
        if order.skills and not order.skills & {move, ''}:
            place = task_places.said_after(order.rest)
            if place is not None:
                return place
    return None


def delivers_then_returns(steps, answer, catalog, task_places):
    """
    Return True for a round trip whose last move, before the return, is to a named place.

    ``answer`` gives the round trip's first and last lines. The line before
    the last (``GO(to:$start)``) is a call of the same skill on a variable
    stored from a place of the map the task names, after an action that is no
    move (a take): the task's destination, delivered to.
    """
    if len(steps) < 4 or steps[0].text() != answer.first_line \
            or steps[-1].text() != answer.last_line:
        return False
    move, before = steps[-2], steps[-3]
    if move.function != steps[-1].function or before.function == move.function:
        return False
    target = [v for _, v in move.args if is_variable(v)]
    stored = [s for s in steps[:-2] if target and s.store_result == target[0]]
    if not stored:
        return False
    literals = step_literals(stored[-1], catalog, places=True)
    return bool(literals) and all(task_places.semantic_map.resolve(v) is not None
                                  and task_places.allows(v) for v in literals)


__all__ = ['DESTINATION_WORDS', 'SOURCE_WORDS', 'TaskPlaces', 'add_lookups',
           'delivers_then_returns', 'delivery_place', 'phrase', 'step_literals']
