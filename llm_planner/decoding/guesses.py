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
What the plan language makes likely next: :func:`plan_guess`, fed with :class:`PlanFacts`.

A text argument of a call that stores its result is the variable's name
(``$kitchen = GET_LOCATION(location_name:"`` -> ``kitchen"``); a
``$variable`` argument is the variable stored last and not used yet
(``GO(to:$`` -> ``kitchen)``); a new variable is named after the task's
words (a place the task names, by name or alias, else a thing it names) and
is assigned by the skill the examples use for its kind (``$mug`` -> `` =
SEARCH(``).

What the guesses know of the catalog, the map and the examples comes as
objects from the planner (:meth:`PlanFacts.of`), not from the rendered
prompt: a place is a place of the map, not a line that looks like one. The
words a new variable is named after are still read from the prompt text, as
before (the last line of plain words before the answer): in the program
request that line is the action line (``DO: go, take``), not the task. Taking
the task's words instead changes the drafts, and with ``decode_batch`` above
the exact size a changed batch may flip a near-tie: 3 of the 197 tuning
plans changed. That fix belongs with the plan-quality work, measured there.
"""

import functools
import re

from llm_planner.core.catalog import STRING
from llm_planner.core.errors import PlannerError
from llm_planner.core.program import is_variable, parse_program, REFUSAL

_NAMED = re.compile(r'^\$(\w+)(?: = ?| =)?$')
_ASSIGN_CALL = re.compile(r'^\$(\w+) = (\w+)\((\w+:")?', re.MULTILINE)
_ASSIGN_STRING = re.compile(r'\$(\w+) = \w+\((?:\w+:(?:"[^"\n]*"|\$\w+), )*\w+:"$')
_VAR_ARG = re.compile(r'[(,] ?\w+:\$$')
_ASSIGNED = re.compile(r'^\$(\w+) = ', re.MULTILINE)
_USED = re.compile(r'\w+:\$(\w+)')
_WORD = re.compile(r'\w+')
_MARKUP = re.compile(r'<\|[^|>]*\|>')
# Words after which a task names a thing (English and French articles, possessives).
_DETERMINERS = frozenset(
    'the a an my your his her its our their this that these those some '
    'le la les l un une des du de mon ma mes ton ta tes son sa ses notre votre'.split())


def _task_line(prompt):
    """Return the prompt's last line of plain words (the task), without template markup."""
    for line in reversed(_MARKUP.sub('\n', prompt).split('\n')):
        if len(line.split()) >= 2 and '$' not in line and '(' not in line:
            return line
    return ''


@functools.lru_cache(maxsize=8)
def _task_words(prompt):
    return tuple(_WORD.findall(_task_line(prompt).lower()))


@functools.lru_cache(maxsize=8)
def _known_names(prompt, facts):
    """
    Return names a variable likely takes, likeliest first.

    The places the task names, the task's words, its word pairs, the other
    places, the examples' variables.
    """
    words = list(_task_words(prompt))
    pairs = ['_'.join(words[i:i + 2]) for i in range(len(words) - 1)]
    names = [n for n in pairs + words if n in facts.places] + words + pairs
    names += sorted(facts.places) + [var for var, _, _ in facts.assignments]
    return list(dict.fromkeys(names))


class PlanFacts:
    """
    What the drafts know of a plan before the model writes it, as objects.

    ``places``: the map's place names; ``aliases``: {word of another name:
    place}; ``assignments``: (variable, skill, whether its first argument is
    a text) of each call storing a result in the programs of the prompt's
    examples, in prompt order; ``map_lookup``: the catalog's skill that
    looks a place up ('' if none).
    """

    def __init__(self, places=(), aliases=None, assignments=(), map_lookup=''):
        """Keep the facts."""
        self.places = frozenset(places)
        self.aliases = dict(aliases or {})
        self.assignments = tuple(assignments)
        self.map_lookup = map_lookup

    @classmethod
    def of(cls, catalog=None, semantic_map=None, examples=()):
        """
        Return the facts of a prompt made with ``catalog``, ``semantic_map`` and ``examples``.

        ``examples`` are the prompt's examples in prompt order (objects with
        a ``program`` text: the core ones, then those chosen for the task).
        """
        places, aliases = [], {}
        for place in (semantic_map.places if semantic_map is not None else ()):
            places.append(place.name)
            for alias in place.aliases:
                for word in _WORD.findall(alias.lower()):
                    aliases.setdefault(word, place.name)
        assignments = []
        for example in examples:
            if example.program.strip() == REFUSAL:
                continue
            try:
                steps = parse_program(example.program)
            except PlannerError:
                continue
            for step in steps:
                if step.store_result:
                    assignments.append((step.store_result.lstrip('$'), step.function,
                                        _takes_text_first(step, catalog)))
        lookup = next((s.name for s in catalog if s.is_map_lookup), '') if catalog else ''
        return cls(places, aliases, assignments, lookup)


def _takes_text_first(step, catalog):
    """Return True when the call's first argument is a text (a STRING in the catalog)."""
    if not step.args:
        return False
    skill = catalog.get(step.function) if catalog is not None else None
    if skill is not None and skill.args:
        return skill.args[0].type == STRING
    return not is_variable(step.args[0][1])


def _assigning_skill(name, done, facts):
    """
    Return the skill that likely assigns variable ``name`` ('' when unknown).

    The one that assigned it before (in the plan ``done`` so far, else in the
    examples), else the skill the examples most often assign a variable of
    its kind with (a place on the map: GET_LOCATION; anything else: SEARCH),
    among calls with a text argument; for a place the examples never look
    up, the catalog's map lookup.
    """
    found = [(var, skill, bool(text)) for var, skill, text in _ASSIGN_CALL.findall(done)]
    for var, skill, _ in reversed(found + list(facts.assignments)):
        if var == name:
            return skill
    counts = {}
    for var, skill, text_arg in facts.assignments:
        if text_arg and (var in facts.places) == (name in facts.places):
            counts[skill] = counts.get(skill, 0) + 1
    if not counts:
        return facts.map_lookup if name in facts.places else ''
    return max(counts, key=lambda k: (counts[k], k))


def _new_variable(done, facts, corpus):
    """
    Return the likely name of the next variable: a word (or two joined by _) of the task.

    The task is the prompt's (``corpus``) last line of plain words.
    Candidates are what the plan has not assigned yet: the places the task
    names (by name, or by another name of the place: ``cuisine`` is the
    kitchen), the things it names (a word after an article or a possessive
    that is not a place), then its words the prompt writes as variables
    (``$cat = ``); each kind in the task's order. Places come
    first, as plans go somewhere before they search, except right after a
    line that uses a place (``GO(to:$kitchen)``): there the plan searches
    what it came for.
    """
    assigned = set(_ASSIGNED.findall(done))
    words = _task_words(corpus)
    candidates = []
    for i, word in enumerate(words):
        candidates += ['_'.join(words[i:i + 2])] if i + 1 < len(words) else []
        candidates.append(word)
    known, aliases = facts.places, facts.aliases
    places = [p for p in (c if c in known else aliases.get(c) for c in candidates)
              if p and p not in assigned]
    things = []
    for i in range(1, len(words)):
        word, pair = words[i], '_'.join(words[i:i + 2])
        if (words[i - 1] in _DETERMINERS and word not in _DETERMINERS
                and word not in assigned and not {word, pair} & (known | set(aliases))):
            things.append(word)
    usable = [c for c in candidates if c not in assigned and f'${c} = ' in corpus]
    # Arrived: the line before uses a place (GO(to:$kitchen)) rather than storing one.
    previous = done[done.rfind('\n', 0, len(done) - 1) + 1:]
    arrived = not previous.startswith('$') and any(
        name in known for name in _USED.findall(previous))
    first, second = (things, places) if arrived else (places, things)
    return (first or second or usable or [''])[0]


def _named(name, line, done, facts, corpus):
    """
    Guess how a new variable's line goes on from ``line`` (``$name``, maybe `` =``).

    A name the task, the map or the examples use is taken as complete and
    followed by `` = SKILL(`` (see ``_assigning_skill``); a name that only
    starts one of those is completed with it (the task's words first).
    """
    if line.endswith('$' + name):
        known = _known_names(corpus, facts)
        if name not in known:
            longer = [k for k in known if k.startswith(name)]
            return longer[0][len(name):] if longer else ''
    skill = _assigning_skill(name, done, facts)
    return ' = '[len(line) - len(name) - 1:] + skill + '(' if skill else ''


def plan_guess(text, facts=None, corpus=''):
    """
    Return a likely continuation of plan text ``text`` ('' when there is none).

    After ``$name = SKILL(arg:"`` the guess is ``name"`` (the place or
    object the variable is named after); after an ``arg:$`` it is the
    variable assigned last that no call has used yet (else the one assigned
    last) and ``)``. With ``facts`` (:class:`PlanFacts`), a new variable
    (``$`` at a line start) is named after a word of the task (``corpus``,
    the prompt, ends with it; see ``_new_variable``), and a name is followed
    by the skill that assigns such names (``$mug`` -> `` = SEARCH(``, see
    ``_named``). The decoder keeps the part the grammar admits.
    """
    line_start = text.rfind('\n') + 1
    line = text[line_start:]
    if line == '$' and facts is not None:
        return _new_variable(text[:line_start], facts, corpus)
    named = _NAMED.match(line)
    if named and facts is not None:
        return _named(named.group(1), line, text[:line_start], facts, corpus)
    m = _ASSIGN_STRING.match(line)
    if m:
        return m.group(1) + '"'
    if _VAR_ARG.search(line):
        done = text[:line_start]
        assigned = _ASSIGNED.findall(done)
        if not assigned:
            return ''
        used = set(_USED.findall(text))
        for name in reversed(assigned):
            if name not in used:
                return name + ')'
        return assigned[-1] + ')'
    return ''


__all__ = ['PlanFacts', 'plan_guess']
