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
The skill catalog: which skills the robot has, their arguments and types.

Loaded from YAML (``config/skills.yaml``). Everything downstream follows the
catalog: the prompt lists its skills, the grammar admits only them, the
validator checks calls against their signatures and the executor runs them
through their ``run:`` binding. Adding a skill is a YAML edit.
"""

from dataclasses import dataclass, field
import re

from llm_planner.core.semantic_map import load_yaml_as

STRING = 'STRING'
LOCATION = 'LOCATION'
TYPES = (STRING, LOCATION)

# Argument values drawn from the semantic map's place names.
VALUES_LOCATIONS = 'locations'
# run.kind of a skill answered from the semantic map, without the robot.
KIND_MAP = 'map'

SKILL_NAME_RE = re.compile(r'^[A-Z][A-Z0-9_]{0,39}$')
# An action word of a skill (``verbs:``): one to three lower-case words without accents.
VERB_RE = re.compile(r'^[a-z]+(?: [a-z]+){0,2}$')
# Words of a task, as round_trip's rules name them: lower-case words.
PHRASE_RE = re.compile(r'^[a-z]+(?: [a-z]+)*$')
ARG_NAME_RE = re.compile(r'^[a-z][a-z0-9_]{0,39}$')
RESERVED = frozenset({'ERROR'})


class CatalogError(ValueError):
    """The catalog file is not a valid skill catalog."""


@dataclass(frozen=True)
class Argument:
    """One typed argument of a skill."""

    name: str
    type: str  # noqa: A003 (the YAML key)
    description: str = ''
    values: str = ''  # '' (free) or 'locations' (a place on the semantic map)


@dataclass(frozen=True)
class Skill:
    """A skill of the robot: a name, typed arguments, an optional return type."""

    name: str
    description: str
    args: tuple = ()
    returns: str = ''
    run: dict = field(default_factory=dict, compare=False, hash=False)
    verbs: tuple = ()  # the task actions it does; verbs[0] is the one the model writes
    usage: tuple = ()  # rules shown to the model

    @property
    def is_map_lookup(self):
        """Return True for a skill that only reads the semantic map (``run: {kind: map}``)."""
        return self.run.get('kind') == KIND_MAP

    def arg(self, name):
        """Return the argument called ``name``, or None."""
        for arg in self.args:
            if arg.name == name:
                return arg
        return None


@dataclass(frozen=True)
class RoundTrip:
    """A plan that stores where the robot starts and goes back there last."""

    verbs: tuple
    first: str
    last: str
    usage: tuple = ()
    asked_by: tuple = ()  # phrases of a task that ask for a round trip
    needs_one_of: tuple = ()  # words without which a task does not come back


def _strings(value, where, key, pattern=None):
    """Return a YAML list of strings as a tuple (lower-cased words when ``pattern``)."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogError(f'{where}: {key} must be a list of non-empty strings')
    out = tuple(' '.join(v.split()) for v in value)
    if pattern is not None:
        out = tuple(v.lower() for v in out)
        bad = [v for v in out if not pattern.match(v)]
        if bad:
            what = 'one to three lower-case words' if pattern is VERB_RE else 'lower-case words'
            raise CatalogError(f'{where}: {key} {bad[0]!r} must be {what}')
    return out


def _parse_round_trip(entry):
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise CatalogError('round_trip must be a mapping')
    verbs = _strings(entry.get('verbs'), 'round_trip', 'verbs', VERB_RE)
    first, last = entry.get('first'), entry.get('last')
    if not verbs:
        raise CatalogError('round_trip: verbs must name at least one action')
    if not isinstance(first, str) or not isinstance(last, str) or not first or not last:
        raise CatalogError('round_trip: first and last must be program lines')
    return RoundTrip(verbs, first.strip(), last.strip(),
                     _strings(entry.get('usage'), 'round_trip', 'usage'),
                     _strings(entry.get('asked_by'), 'round_trip', 'asked_by', PHRASE_RE),
                     _strings(entry.get('needs_one_of'), 'round_trip', 'needs_one_of',
                              PHRASE_RE))


def _parse_skill(entry, index):
    where = f'skills[{index}]'
    if not isinstance(entry, dict):
        raise CatalogError(f'{where}: expected a mapping, got {type(entry).__name__}')
    name = entry.get('name')
    if not isinstance(name, str) or not SKILL_NAME_RE.match(name) or name in RESERVED:
        raise CatalogError(
            f'{where}: name {name!r} must be UPPER_SNAKE_CASE (and not ERROR)')
    where = f'skill {name}'
    description = entry.get('description', '')
    if not isinstance(description, str):
        raise CatalogError(f'{where}: description must be a string')
    raw_args = entry.get('args') or []
    if not isinstance(raw_args, list):
        raise CatalogError(f'{where}: args must be a list')
    args = []
    for raw in raw_args:
        if not isinstance(raw, dict):
            raise CatalogError(f'{where}: each argument must be a mapping')
        arg_name = raw.get('name')
        if not isinstance(arg_name, str) or not ARG_NAME_RE.match(arg_name):
            raise CatalogError(f'{where}: argument name {arg_name!r} must be lower_snake_case')
        if any(a.name == arg_name for a in args):
            raise CatalogError(f'{where}: argument {arg_name} declared twice')
        arg_type = raw.get('type')
        if arg_type not in TYPES:
            raise CatalogError(
                f'{where}: argument {arg_name} has type {arg_type!r}; use one of {TYPES}')
        values = raw.get('values', '') or ''
        if values not in ('', VALUES_LOCATIONS):
            raise CatalogError(
                f"{where}: argument {arg_name}: values must be '{VALUES_LOCATIONS}' or absent")
        if values and arg_type != STRING:
            raise CatalogError(f'{where}: argument {arg_name}: values apply to STRING only')
        args.append(Argument(arg_name, arg_type, str(raw.get('description', '')), values))
    returns = entry.get('returns') or ''
    if returns and returns not in TYPES:
        raise CatalogError(f'{where}: returns {returns!r}; use one of {TYPES} or leave it out')
    run = entry.get('run') or {}
    if not isinstance(run, dict):
        raise CatalogError(f'{where}: run must be a mapping')
    verbs = _strings(entry.get('verbs'), where, 'verbs', VERB_RE)
    usage = _strings(entry.get('usage'), where, 'usage')
    return Skill(name, description, tuple(args), returns, run, verbs, usage)


class SkillCatalog:
    """An ordered, immutable set of skills."""

    def __init__(self, skills, round_trip=None):
        self._skills = {}
        for skill in skills:
            if skill.name in self._skills:
                raise CatalogError(f'skill {skill.name} declared twice')
            self._skills[skill.name] = skill
        if not self._skills:
            raise CatalogError('the catalog has no skill')
        self.round_trip = round_trip
        # verb -> what it stands for: skill names, or '' for the round trip.
        self._verbs = {}
        for skill in self._skills.values():
            for verb in skill.verbs:
                self._verbs.setdefault(verb, set()).add(skill.name)
        for verb in (round_trip.verbs if round_trip else ()):
            self._verbs.setdefault(verb, set()).add('')

    @property
    def verbs(self):
        """Return {verb: set of skill names ('' = the round trip)} over the catalog."""
        return {verb: set(names) for verb, names in self._verbs.items()}

    @property
    def main_verbs(self):
        """Return the verb the model is told to write for each action, in catalog order."""
        out = [skill.verbs[0] for skill in self._skills.values() if skill.verbs]
        if self.round_trip is not None:
            out.append(self.round_trip.verbs[0])
        return out

    @classmethod
    def from_dict(cls, data):
        """Build a catalog from the parsed YAML document."""
        if not isinstance(data, dict) or not isinstance(data.get('skills'), list):
            raise CatalogError("expected a mapping with a 'skills' list")
        return cls([_parse_skill(entry, i) for i, entry in enumerate(data['skills'])],
                   _parse_round_trip(data.get('round_trip')))

    @classmethod
    def load(cls, path):
        """Load a catalog from a YAML file."""
        return load_yaml_as(path, cls.from_dict, CatalogError, 'skill catalog')

    def get(self, name):
        """Return the skill called ``name``, or None."""
        return self._skills.get(name)

    @property
    def names(self):
        """Skill names in catalog order."""
        return list(self._skills)

    def __iter__(self):
        return iter(self._skills.values())

    def __len__(self):
        return len(self._skills)
