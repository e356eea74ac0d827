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
The actions a task orders, read from its imperative clauses.

The model's action line (:mod:`llm_planner.planning.actions`) is the first
judge of what a task asks. A small model drops an order there in two
recognisable ways: in a compound task it maps the part no skill does onto
the skills it knows ("take the can from the pantry and water the plants"
-> ``go, find, take, go``), and in a long one it forgets an order it has a
skill for ("head to the bedroom, grab the pillow and come back" -> ``go,
find, come back``).

An order in plain language has a recognisable form: a clause that begins
(after polite words: "please", "could you") with a verb followed by its
object ("water the plants", "switch off the light", "arrose les plantes").
:func:`clause_orders` finds those clauses and reads each verb against the
catalog's ``verbs:`` (through :func:`~llm_planner.planning.actions.meaning`):
a verb no skill does is an action to refuse; a verb some skill does is an
order the action line must carry.

Only the form of the clause is read here, with the function words of
English and French (determiners, pronouns, polite words); which verbs mean
what is the catalog's, in ``skills.yaml``. A clause that begins with a noun
or a subject ("the keys are in the drawer", "my feet are cold") orders
nothing.
"""

from dataclasses import dataclass
import re

from llm_planner.core.names import fold_accents
from llm_planner.planning.actions import meaning

# Words that split a task into clauses (punctuation splits it too).
CLAUSE_WORDS = frozenset('and then et puis ensuite also afterwards'.split())
# Words that may open an order before its verb.
LEAD_WORDS = frozenset((
    'please kindly could can would will you u robot hey hi ok okay so just now first next '
    'finally quickly quick also then immediately right away go ahead and lastly '
    'peux pourrais pouvez pourriez tu vous stp svp s il te vous plait merci d abord '
    'enfin aussi alors maintenant vite').split())
# Words that make the word before them a verb with its object.
OBJECT_WORDS = frozenset((
    'the a an my your his her its our their this that these those some all every each any '
    'it them him '
    'le la les l un une des du mon ma mes ton ta tes son sa ses notre nos votre vos leur '
    'leurs ce cet cette ces').split())
# Words between a verb and its object that belong to the verb ("switch off the light").
VERB_PARTICLES = frozenset('on off up down out away over'.split())
# Words for the one ordered to, before the object ("show me a dance", "prepare-moi un cafe").
TO_WHOM_WORDS = frozenset('me us moi nous'.split())
# Words that cannot be a verb in an order (the clause says something else).
NOT_VERBS = frozenset((
    'i im i m me my mine we us our you your it its they them their there here this that '
    'these those the a an some any all both each every no not none he she his her him '
    'where what when which who how why whether if is are was were be been am do does did '
    'don t have has had in on at to from for with of by near behind under into onto inside '
    'next one two three four five before after while because but or as than too very '
    'something anything everything nothing someone somebody anyone everyone '
    'je j moi mon ma mes tu te toi ton ta tes il elle on nous vous ils elles le la les l '
    'un une des du de d ce cet cette ces c ou est sont dans sur sous a au aux en pour avec '
    'chez par que qui quoi quand comment ne n pas y').split())

_TOKEN_RE = re.compile(r'[a-z]+|[,.;:!?]')


@dataclass(frozen=True)
class Order:
    """
    A verb the task orders with its object.

    ``position``: its word's index in the task; ``skills``: the skills its
    verb means ('' the round trip; none: no skill does it); ``rest``: the
    clause's words after the verb's first word ("it to the kitchen").
    """

    position: int
    verb: str
    skills: frozenset
    rest: tuple = ()


def _clauses(task):
    """Yield (position of its first word, words) for each clause of ``task``."""
    words, start, index = [], 0, 0
    for token in _TOKEN_RE.findall(fold_accents(task)):
        if token in ',.;:!?' or token in CLAUSE_WORDS:
            if words:
                yield start, words
            words = []
            if token not in ',.;:!?':
                index += 1
            continue
        if not words:
            start = index
        words.append(token)
        index += 1
    if words:
        yield start, words


def clause_orders(task, verbs):
    """
    Return the :class:`Order` s of ``task``, in its order.

    ``verbs`` is :attr:`SkillCatalog.verbs`. A clause orders something when
    its first word after the lead words is no function word and is followed
    by an object word ("water the plants"), possibly after a particle
    ("turn off the light"). The longest known verb the clause begins with
    ("pick up", "look for") decides the skills; a verb no skill knows is
    read with its particle ("turn off").
    """
    orders = []
    for start, words in _clauses(task):
        i = 0
        while i < len(words) and words[i] in LEAD_WORDS:
            i += 1
        rest = words[i:]
        if not rest or rest[0] in NOT_VERBS or rest[0] in LEAD_WORDS:
            continue
        known = None
        for n in range(min(3, len(rest)), 0, -1):
            found = meaning(' '.join(rest[:n]), verbs)
            if found is not None:
                known = (' '.join(rest[:n]), frozenset(found), rest[n:])
                break
        if known is not None:
            verb, skills, after = known
        else:
            particle = len(rest) > 1 and rest[1] in VERB_PARTICLES
            verb = ' '.join(rest[:2] if particle else rest[:1])
            skills, after = frozenset(), rest[2 if particle else 1:]
        if after and after[0] in VERB_PARTICLES:
            after = after[1:]
        if len(after) > 1 and after[0] in TO_WHOM_WORDS:
            after = after[1:]
        if after and after[0] in OBJECT_WORDS:
            orders.append(Order(start + i, verb, skills, tuple(rest[1:])))
    return orders


def unsupported_orders(orders):
    """Return the verbs of ``orders`` no skill does, without repeats."""
    return list(dict.fromkeys(o.verb for o in orders if not o.skills))


def with_orders(actions, orders, catalog):
    """
    Return ``actions`` with each order it lacks put in, in the task's order.

    An order is lacking when no action of the line means one of its skills.
    It goes in as its skill's first verb (the form the examples write),
    before the first action the task orders after it, else before the
    round trip's action, else last.
    """
    verbs = catalog.verbs
    out = list(actions)
    for order in orders:
        if not order.skills or any((meaning(a, verbs) or set()) & order.skills for a in out):
            continue
        skill = catalog.get(sorted(order.skills - {''})[0]) if order.skills - {''} else None
        if skill is None or not skill.verbs:
            continue
        at = len(out)
        for index, action in enumerate(out):
            found = meaning(action, verbs) or set()
            later = [o for o in orders if o.position > order.position and o.skills & found]
            if later or '' in found:
                at = index
                break
        out.insert(at, skill.verbs[0])
    return out


__all__ = ['Order', 'clause_orders', 'unsupported_orders', 'with_orders']
