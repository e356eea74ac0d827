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
The action line: what a task asks for, checked against what the skills can do.

Before its program the model writes one line, under a grammar::

    DO: go, find, take, come back

the task's actions in order, each an English verb. The catalog's skills name
the verbs they do (``verbs:`` in ``config/skills.yaml``), and so does the
round trip (``round_trip.verbs``: "come back", for a return or a delivery to
the user). The decision is then plain Python, not the model's:

* an action no skill's verbs name refuses the task (UNSUPPORTED_TASK, the
  message naming it: "no skill can 'water'");
* the plan stores its start and goes back there only when an action is the
  round trip's.

The model's part is what small models do well, naming the verbs of a
sentence, mapping synonyms onto the listed ones as the examples show; which
verbs the robot has is a fact of the catalog, so a skill added to the YAML
with its verbs is planned with at once. The examples' action lines are
derived from their programs (:func:`derive_actions`), so the bank needs an
explicit ``do:`` only for tasks it refuses.
"""

import re

from llm_planner.core.names import fold_accents
from llm_planner.planning.grammar import gbnf_literal

PREFIX = 'DO: '
SEPARATOR = ', '
MAX_ACTIONS = 8
MAX_WORDS = 3
# Words that may follow a known verb without changing what it is: "go back",
# "look around", "pick it up". A verb not known alone stays unknown with them
# ("turn on", "put down").
PARTICLES = frozenset('back up around over here there again along away it them me to for '
                      'in into inside'.split())
_ITEM_RE = re.compile(r'^[a-z]+(?: [a-z]+)*$')


def actions_gbnf(max_actions=MAX_ACTIONS):
    """Return the GBNF grammar of the action line (it ends with its line break)."""
    return '\n'.join([
        f'root ::= {gbnf_literal(PREFIX)} action '
        f'({gbnf_literal(SEPARATOR)} action){{0,{max_actions - 1}}} "\\n"',
        f'action ::= word (" " word){{0,{MAX_WORDS - 1}}}',
        'word ::= [a-z] [a-z]{0,11}',
    ]) + '\n'


def format_actions(actions):
    """Return the action line for a list of actions (with its line break)."""
    return PREFIX + SEPARATOR.join(actions) + '\n'


def parse_actions(text):
    """Return the actions of an action line, lower case, in order ([] if it is none)."""
    line = text.strip().split('\n', 1)[0]
    if not line.startswith(PREFIX.strip()):
        return []
    items = line[len(PREFIX.strip()):].split(',')
    out = []
    for item in items:
        item = ' '.join(item.lower().split())
        if item and _ITEM_RE.match(item):
            out.append(item)
    return out


def _stem(word):
    """Return the base forms a verb may have been written from (walks -> walk)."""
    forms = [word]
    for suffix, repl in (('ies', 'y'), ('es', ''), ('s', ''), ('ing', ''), ('ing', 'e'),
                         ('ed', ''), ('ed', 'e')):
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            forms.append(word[:-len(suffix)] + repl)
    return forms


def meaning(action, verbs):
    """
    Return what ``action`` stands for: a set of skill names ('' = the round trip).

    ``verbs`` is :attr:`SkillCatalog.verbs`. The action matches a known verb
    whole, or its first words do and the rest are particles ("go back there");
    a verb's -s/-ing/-ed forms match it. None when no skill does it.
    """
    words = action.split()
    for n in range(len(words), 0, -1):
        rest = words[n:]
        if any(w not in PARTICLES for w in rest):
            continue
        head, last = words[:n - 1], words[n - 1]
        for form in _stem(last):
            found = verbs.get(' '.join(head + [form]))
            if found:
                return set(found)
    return None


def check_actions(actions, catalog):
    """
    Return (unsupported actions, round trip?) for the model's action list.

    Unsupported: the actions no skill of ``catalog`` does, in order, without
    repeats. Round trip: an action is one of the round trip's.
    """
    verbs = catalog.verbs
    unsupported, round_trip = [], False
    for action in actions:
        found = meaning(action, verbs)
        if found is None:
            if action not in unsupported:
                unsupported.append(action)
        elif '' in found:
            round_trip = True
    return unsupported, round_trip


def task_words(task):
    """Return a task's words as round_trip's rules see them: ' words ' folded, padded."""
    return ' ' + ' '.join(re.findall(r'[a-z]+', fold_accents(task))) + ' '


def decide_round_trip(task, line_says, trip):
    """
    Return (round trip?, why) from the action line's answer and the task's words.

    ``trip`` is the catalog's round trip. A phrase of ``asked_by`` in the
    task makes it a round trip; no word of ``needs_one_of`` in the task
    (when the list is given) makes it none; otherwise the action line
    decides.
    """
    if trip is None:
        return False, ''
    words = task_words(task)
    for phrase in trip.asked_by:
        if f' {phrase} ' in words:
            return True, f'the task says {phrase!r}'
    if line_says and trip.needs_one_of and not any(f' {w} ' in words
                                                   for w in trip.needs_one_of):
        return False, 'no word of the task asks to come back'
    return line_says, ''


def said_round_trip(actions, task, catalog):
    """
    Return ``actions`` with an unknown action the task says as a round trip made one.

    "Give me a lighter" may come out as ``find, take, give, come back``:
    "give" alone is no skill's verb, but the task says "give me", which is
    one of the round trip's verbs that begins with it. Such an action is the
    round trip's (written as its first verb, once).
    """
    trip = catalog.round_trip
    if trip is None:
        return list(actions)
    words, verbs = task_words(task), catalog.verbs
    out = []
    for action in actions:
        if meaning(action, verbs) is None and any(
                v.startswith(action + ' ') and f' {v} ' in words for v in trip.verbs):
            action = trip.verbs[0]
        if action not in out or meaning(action, verbs) != {''}:
            out.append(action)
    return out


def with_round_trip(actions, round_trip, catalog):
    """
    Return ``actions`` made to agree with a round-trip decision the rules took.

    Without a round trip the round trip's verbs go; with one its first verb
    ends the list if no action is one already.
    """
    verbs = catalog.verbs
    trips = [a for a in actions if '' in (meaning(a, verbs) or ())]
    if round_trip and not trips and catalog.round_trip is not None:
        return list(actions) + [catalog.round_trip.verbs[0]]
    if not round_trip and trips:
        kept = [a for a in actions if a not in trips]
        return kept or list(actions)
    return list(actions)


def refusal_message(unsupported, catalog):
    """Return the UNSUPPORTED_TASK message naming what no skill can do."""
    named = ', '.join(repr(a) for a in unsupported)
    return (f'no skill can {named}; the robot can: '
            f'{", ".join(catalog.main_verbs)}')


def derive_actions(steps, catalog, round_trip=False):
    """
    Return the action list of a program, for the examples' action lines.

    Each call of a skill that has verbs gives its first verb (lookups give
    none); a round trip's first and last lines give the round trip's verb,
    last.
    """
    out = []
    for step in steps:
        skill = catalog.get(step.function)
        if skill is not None and skill.verbs:
            out.append(skill.verbs[0])
    if round_trip and catalog.round_trip is not None:
        out.append(catalog.round_trip.verbs[0])
    return out


__all__ = ['PREFIX', 'actions_gbnf', 'check_actions', 'decide_round_trip', 'derive_actions',
           'format_actions', 'meaning', 'parse_actions', 'refusal_message', 'said_round_trip',
           'task_words', 'with_round_trip']
