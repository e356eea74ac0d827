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

from llm_planner.catalog import LOCATION, STRING, VALUES_LOCATIONS
from llm_planner.program import MAX_LITERAL, MAX_VAR, REFUSAL


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


def _class_without(chars, left_out):
    """Return a GBNF character class of ``chars`` without ``left_out``."""
    kept = [c for c in chars if c != left_out]
    return '[' + ''.join(kept) + ']'


def var_rule_except(names):
    """
    Return the ``var`` rule, admitting every variable name but ``names``.

    ``$start`` is the round trip's: a plan that does not come back may not
    store it (a model that writes ``$start = GET_LOCATION(...)`` there means
    a round trip it was not asked for).
    """
    if not names:
        return VAR_RULE
    if len(names) != 1:
        raise ValueError('one excluded variable name at most')
    word = names[0].lstrip('$')
    if not word or any(c not in _NAME_CHARS for c in word) or not word[0].isalpha():
        raise ValueError(f'not a variable name: {names[0]!r}')
    alternatives = []
    for k in range(1, len(word)):  # a proper prefix of the name
        alternatives.append(gbnf_literal(word[:k]))
    for k, c in enumerate(word):  # the same start, then another character
        room = MAX_VAR - k - 1
        if room < 0:
            break
        chars = 'abcdefghijklmnopqrstuvwxyz' if k == 0 else _NAME_CHARS
        head = (gbnf_literal(word[:k]) + ' ') if k else ''
        alternatives.append(f'{head}{_class_without(chars, c)} [a-z0-9_]{{0,{room}}}'
                            if room > 0 else f'{head}{_class_without(chars, c)}')
    room = MAX_VAR - len(word) - 1
    if room >= 0:  # the name, then more
        alternatives.append(f'{gbnf_literal(word)} [a-z0-9_]{{1,{room + 1}}}')
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


def place_rule(semantic_map, strict_places):
    """Return the ``place-value`` rule: the map's names and aliases, and any name unless strict."""
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


def line_gbnf(catalog, semantic_map, var_types, allow_refusal=False, strict_places=False):
    """
    Return a GBNF grammar for ONE program line, then an optional newline.

    ``$variable`` arguments may only name the variables in ``var_types``
    ({'$name': type}) of the argument's type; a call whose LOCATION argument
    has no such variable is left out. A newline after the line means the
    model goes on with another line; none means the program ends. Return
    None when no line is possible.
    """
    by_type = {t: sorted(v for v, vt in var_types.items() if vt == t) for t in (LOCATION, STRING)}

    def value_of(arg):
        if arg.values == VALUES_LOCATIONS and semantic_map is not None:
            return 'place-value'
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
    tail = [VAR_RULE, *STRING_RULES,
            'string-value ::= string' + (' | string-var' if by_type[STRING] else '')]
    for vtype, rule in ((LOCATION, 'location-var'), (STRING, 'string-var')):
        if by_type[vtype]:
            tail.append(f'{rule} ::= ' + ' | '.join(gbnf_literal(v) for v in by_type[vtype]))
    if semantic_map is not None:
        tail.append(place_rule(semantic_map, strict_places))
    return '\n'.join(head + rules + tail) + '\n'
