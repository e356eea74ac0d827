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
GBNF grammar generated from the skill catalog and the semantic map.

Decoding under this grammar makes every model output a parseable program
that names only catalog skills, with the declared arguments in order. Place
arguments list the map's names first; unless ``strict_places`` is set, any
other quoted name is admitted too, so that a task naming a place the robot
does not know comes back as that name and is refused by the validator with
UNKNOWN_LOCATION, instead of being forced onto the nearest known place.
"""

from llm_planner.core.catalog import LOCATION, STRING, VALUES_LOCATIONS
from llm_planner.core.program import MAX_LITERAL, MAX_VAR, REFUSAL


def gbnf_literal(text):
    """Quote ``text`` as a GBNF string literal."""
    escaped = text.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
    return f'"{escaped}"'


def rule_name(skill_name):
    """GBNF rule name of a skill (GBNF names are [a-z0-9-])."""
    return 'call-' + skill_name.lower().replace('_', '-')


# Rules every grammar here shares: variable names and quoted literals.
VAR_RULE = f'var ::= "$" [a-z] [a-z0-9_]{{0,{MAX_VAR - 1}}}'
STRING_RULES = (
    # The first character is not a space: the validator refuses a blank literal.
    f'string ::= "\\"" [^ "\\\\$\\x00-\\x1f\\x7f] char{{0,{MAX_LITERAL - 1}}} "\\""',
    'char ::= [^"\\\\$\\x00-\\x1f\\x7f]',
)


_NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789_'


def var_rule_except(names):
    """
    Return the ``var`` rule, admitting no variable name that begins with one of ``names``.

    ``$start`` is the round trip's: a plan that does not come back may not
    store it (a model that writes ``$start = GET_LOCATION(...)`` there means
    a round trip it was not asked for), nor a name made from it
    (``$start_location``, ``$start1``: the same intent, spelt around the ban).
    The planner's repair also bans the name of the line it decodes again
    (``$office`` for a place the task does not name).
    """
    words = []
    for name in names:
        word = name.lstrip('$')
        if not word or any(c not in _NAME_CHARS for c in word) or not word[0].isalpha():
            raise ValueError(f'not a variable name: {name!r}')
        words.append(word[:MAX_VAR])
    if not words:
        return VAR_RULE
    alternatives = []

    def walk(prefix):
        # Every name starting with ``prefix`` (which no banned word starts):
        # the prefix alone, another character than a banned word's next one,
        # or a banned word's next character, and so on.
        if prefix:
            alternatives.append(gbnf_literal(prefix))
        if len(prefix) >= MAX_VAR:
            return
        nexts = sorted({w[len(prefix)] for w in words
                        if len(w) > len(prefix) and w.startswith(prefix)})
        chars = 'abcdefghijklmnopqrstuvwxyz' if not prefix else _NAME_CHARS
        room = MAX_VAR - len(prefix) - 1
        head = (gbnf_literal(prefix) + ' ') if prefix else ''
        kept = ''.join(c for c in chars if c not in nexts)
        if kept:
            alternatives.append(f'{head}[{kept}]' + (f' [a-z0-9_]{{0,{room}}}' if room else ''))
        for c in nexts:
            if prefix + c not in words:
                walk(prefix + c)

    walk('')
    return 'var ::= "$" (' + ' | '.join(f'({a})' for a in alternatives) + ')'


def skill_rules(catalog, value_of):
    """
    Return (GBNF rules, skills) for the catalog's skills that can be written.

    ``value_of(arg)`` names the rule an argument's value follows, or None
    when no value can be written for it (the skill is then left out).
    """
    rules, usable = [], []
    for skill in catalog:
        parts = []
        for i, arg in enumerate(skill.args):
            value = value_of(arg)
            if value is None:
                break
            parts.append(f'{gbnf_literal((", " if i else "") + arg.name + ":")} {value}')
        else:
            body = ' '.join([gbnf_literal(skill.name + '(')] + parts + ['")"'])
            rules.append(f'{rule_name(skill.name)} ::= {body}')
            usable.append(skill)
    return rules, usable


def place_rule(semantic_map, strict_places, only=None):
    """
    Return the ``place-value`` rule: the map's names and aliases, and any name unless strict.

    ``only``: the place names admitted instead (none: no place can be written).
    """
    if only is not None:
        if not only:
            return None
        return 'place-value ::= "\\"" (' + ' | '.join(gbnf_literal(n) for n in only) + ') "\\""'
    names = []
    for place in semantic_map.places:
        for name in (place.name,) + tuple(place.aliases):
            if name not in names:
                names.append(name)
    known = '"\\"" (' + ' | '.join(gbnf_literal(n) for n in names) + ') "\\""'
    return 'place-value ::= ' + (known if strict_places else known + ' | string')


def build_gbnf(catalog, semantic_map=None, max_steps=16, strict_places=False,
               exclude_vars=()):
    """
    Return the GBNF grammar for plans over ``catalog`` and ``semantic_map``.

    ``exclude_vars``: a variable name the plan may not use (see
    :func:`var_rule_except`).
    """
    produced = {skill.returns for skill in catalog if skill.returns}
    value_rules = {
        LOCATION: 'var' if LOCATION in produced else None,
        STRING: 'string | var' if STRING in produced else 'string',
    }

    def value_of(arg):
        if arg.values == VALUES_LOCATIONS and semantic_map is not None:
            return 'place-value'
        if value_rules[arg.type] is None:
            return None
        return 'location-value' if arg.type == LOCATION else 'string-value'

    lines, usable = skill_rules(catalog, value_of)
    calls = ' | '.join(rule_name(s.name) for s in usable)
    returning = ' | '.join(rule_name(s.name) for s in usable if s.returns)
    head = [
        f'root ::= ({gbnf_literal(REFUSAL)} | program) "\\n"?',
        f'program ::= line ("\\n" line){{0,{max(0, max_steps - 1)}}}',
    ]
    if returning:
        head.append('line ::= assign | call')
        head.append('assign ::= var " = " (' + returning + ')')
    else:
        head.append('line ::= call')
    head.append(f'call ::= {calls}')
    tail = [
        f'location-value ::= {value_rules[LOCATION] or "var"}',
        f'string-value ::= {value_rules[STRING]}',
        var_rule_except(tuple(exclude_vars)),
        *STRING_RULES,
    ]
    if semantic_map is not None:
        tail.append(place_rule(semantic_map, strict_places))
    return '\n'.join(head + lines + tail) + '\n'


def line_gbnf(catalog, semantic_map, var_types, allow_refusal=False, strict_places=False,
              places=None, exclude_vars=()):
    """
    Return a GBNF grammar for ONE program line, then an optional newline.

    ``$variable`` arguments may only name the variables in ``var_types``
    ({'$name': type}) of the argument's type; a call whose LOCATION argument
    has no such variable is left out. A newline after the line means the
    model goes on with another line; none means the program ends. Return
    None when no line is possible. ``places``: the only place names the line
    may write (a call that needs one is left out when there is none);
    ``exclude_vars``: see :func:`var_rule_except`.
    """
    by_type = {t: sorted(v for v, vt in var_types.items() if vt == t) for t in (LOCATION, STRING)}
    places_rule = (place_rule(semantic_map, strict_places, places)
                   if semantic_map is not None else None)

    def value_of(arg):
        if arg.values == VALUES_LOCATIONS and semantic_map is not None:
            return 'place-value' if places_rule else None
        if arg.type == LOCATION:
            return 'location-var' if by_type[LOCATION] else None
        return 'string-value'

    rules, usable = skill_rules(catalog, value_of)
    if not usable:
        return None
    returning = [s for s in usable if s.returns]
    head = [f'root ::= {gbnf_literal(REFUSAL) + " | " if allow_refusal else ""}line "\\n"?']
    alternatives = ['call']
    if returning:
        alternatives.insert(0, 'assign')
        head.append('assign ::= var " = " (' + ' | '.join(rule_name(s.name) for s in returning)
                    + ')')
    head.append('line ::= ' + ' | '.join(alternatives))
    head.append('call ::= ' + ' | '.join(rule_name(s.name) for s in usable))
    tail = [var_rule_except(tuple(exclude_vars)), *STRING_RULES,
            'string-value ::= string' + (' | string-var' if by_type[STRING] else '')]
    for vtype, rule in ((LOCATION, 'location-var'), (STRING, 'string-var')):
        if by_type[vtype]:
            tail.append(f'{rule} ::= ' + ' | '.join(gbnf_literal(v) for v in by_type[vtype]))
    if places_rule:
        tail.append(places_rule)
    return '\n'.join(head + rules + tail) + '\n'
