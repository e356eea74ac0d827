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
r"""
An exact character-level matcher for the GBNF subset that grammar.py emits.

The grammar is parsed, every rule reference is inlined (recursion is refused
with :class:`GrammarError`, the plan grammar never needs it) and the result is
compiled into a Thompson NFA over Unicode characters. A matcher state is the
epsilon-closed set of NFA nodes, so ``advance`` is exact, with no
backtracking, and states are hashable (transitions are memoised).

Supported: ``name ::= body`` rules (``root`` is the start rule), string
literals with ``\\n \\r \\t \\\\ \\" \\xNN \\uNNNN \\UNNNNNNNN`` escapes,
character classes (ranges, negation, the same escapes), ``.``, grouping,
alternation, ``?``, ``*``, ``+``, ``{m}``, ``{m,n}``, ``{m,}`` and ``#``
comments. The decoder uses :meth:`GrammarMatcher.forced_continuation` to find
text the grammar leaves no choice about.
"""

MANY = 'many'
# allowed() describes a set with more characters than this as MANY.
MAX_LISTED_CHARS = 256
_MAX_CODEPOINT = 0x10FFFF
_SIMPLE_ESCAPES = {'n': '\n', 'r': '\r', 't': '\t', '\\': '\\', '"': '"',
                   '[': '[', ']': ']', '-': '-', '^': '^', '/': '/'}
_HEX_ESCAPES = {'x': 2, 'u': 4, 'U': 8}


class GrammarError(ValueError):
    """The grammar text is malformed, recursive or outside the supported subset."""


# --- parsing -----------------------------------------------------------------
# Expressions are tuples:
#   ('lit', text)                    a literal string
#   ('cls', ranges, negated)         one character; ranges = ((lo, hi), ...) code points
#   ('seq', (expr, ...))             concatenation
#   ('alt', (expr, ...))             alternation
#   ('rep', expr, min, max or None)  repetition (?, *, +, {m,n})
#   ('ref', name)                    rule reference


def _is_name_char(c):
    return c.isascii() and (c.isalnum() or c in '-_')


class _Parser:
    """A recursive-descent parser for the GBNF subset."""

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def error(self, message):
        line = self.text.count('\n', 0, self.pos) + 1
        col = self.pos - (self.text.rfind('\n', 0, self.pos) + 1) + 1
        return GrammarError(f'{message} at line {line}, column {col}')

    def peek(self, k=0):
        i = self.pos + k
        return self.text[i] if i < len(self.text) else ''

    def skip_space(self, newlines):
        """Skip blanks and comments (and newlines when ``newlines``)."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == '#':
                end = self.text.find('\n', self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif c in ' \t' or (newlines and c in '\r\n'):
                self.pos += 1
            else:
                break

    def name(self):
        start = self.pos
        while self.pos < len(self.text) and _is_name_char(self.text[self.pos]):
            self.pos += 1
        if self.pos == start:
            raise self.error('expected a rule name')
        return self.text[start:self.pos]

    def at_rule_start(self):
        """Return True when the input at pos reads ``name ::=``."""
        i = self.pos
        while i < len(self.text) and _is_name_char(self.text[i]):
            i += 1
        if i == self.pos:
            return False
        while i < len(self.text) and self.text[i] in ' \t':
            i += 1
        return self.text.startswith('::=', i)

    def rules(self):
        rules = {}
        self.skip_space(True)
        while self.pos < len(self.text):
            name = self.name()
            self.skip_space(False)
            if not self.text.startswith('::=', self.pos):
                raise self.error(f'expected ::= after {name}')
            self.pos += 3
            if name in rules:
                raise self.error(f'rule {name} defined twice')
            rules[name] = self.alternatives(nested=False)
            self.skip_space(True)
        return rules

    def alternatives(self, nested):
        alts = [self.sequence(nested)]
        while self.peek() == '|':
            self.pos += 1
            alts.append(self.sequence(nested))
        return alts[0] if len(alts) == 1 else ('alt', tuple(alts))

    def sequence(self, nested):
        items = []
        while True:
            # A newline ends a top-level rule unless the next line continues it
            # (it does not start a new ``name ::=``); inside parentheses it is
            # plain whitespace.
            self.skip_space(nested)
            c = self.peek()
            if not nested and c in '\r\n':
                save = self.pos
                self.skip_space(True)
                nxt = self.peek()
                if not nxt or self.at_rule_start() or nxt in '|)':
                    if nxt == '|':
                        continue
                    self.pos = save
                    break
                continue
            if not c or c in '|)':
                break
            items.append(self.postfix(self.atom()))
        if not items:
            return ('seq', ())
        return items[0] if len(items) == 1 else ('seq', tuple(items))

    def atom(self):
        c = self.peek()
        if c == '"':
            return self.literal()
        if c == '[':
            return self.char_class()
        if c == '.':
            self.pos += 1
            return ('cls', ((0, _MAX_CODEPOINT),), False)
        if c == '(':
            self.pos += 1
            expr = self.alternatives(nested=True)
            self.skip_space(True)
            if self.peek() != ')':
                raise self.error('expected )')
            self.pos += 1
            return expr
        if _is_name_char(c):
            return ('ref', self.name())
        raise self.error(f'unexpected {c!r}')

    def escape(self):
        """Decode the escape after a backslash at pos; return the character."""
        self.pos += 1
        c = self.peek()
        if c in _HEX_ESCAPES:
            n = _HEX_ESCAPES[c]
            digits = self.text[self.pos + 1:self.pos + 1 + n]
            if len(digits) != n or any(d not in '0123456789abcdefABCDEF' for d in digits):
                raise self.error(f'bad \\{c} escape')
            self.pos += 1 + n
            return chr(int(digits, 16))
        if c in _SIMPLE_ESCAPES:
            self.pos += 1
            return _SIMPLE_ESCAPES[c]
        raise self.error(f'unknown escape \\{c}')

    def char(self, end):
        c = self.peek()
        if not c or c in '\r\n':
            raise self.error(f'unterminated {end}')
        if c == '\\':
            return self.escape()
        self.pos += 1
        return c

    def literal(self):
        self.pos += 1
        out = []
        while self.peek() != '"':
            out.append(self.char('string'))
        self.pos += 1
        return ('lit', ''.join(out))

    def char_class(self):
        self.pos += 1
        negated = self.peek() == '^'
        if negated:
            self.pos += 1
        ranges = []
        while self.peek() != ']':
            lo = self.char('character class')
            hi = lo
            if self.peek() == '-' and self.peek(1) not in (']', ''):
                self.pos += 1
                hi = self.char('character class')
            if ord(hi) < ord(lo):
                raise self.error(f'empty range {lo!r}-{hi!r}')
            ranges.append((ord(lo), ord(hi)))
        self.pos += 1
        return ('cls', _merge_ranges(ranges), negated)

    def integer(self):
        start = self.pos
        while self.peek().isdigit():
            self.pos += 1
        if start == self.pos:
            return None
        return int(self.text[start:self.pos])

    def postfix(self, expr):
        while True:
            c = self.peek()
            if c == '?':
                expr = ('rep', expr, 0, 1)
            elif c == '*':
                expr = ('rep', expr, 0, None)
            elif c == '+':
                expr = ('rep', expr, 1, None)
            elif c == '{':
                self.pos += 1
                self.skip_space(False)
                lo = self.integer()
                if lo is None:
                    raise self.error('expected a repetition count')
                self.skip_space(False)
                hi = lo
                if self.peek() == ',':
                    self.pos += 1
                    self.skip_space(False)
                    hi = self.integer()
                    self.skip_space(False)
                if self.peek() != '}':
                    raise self.error('expected }')
                if hi is not None and hi < lo:
                    raise self.error(f'bad repetition {{{lo},{hi}}}')
                expr = ('rep', expr, lo, hi)
            else:
                return expr
            self.pos += 1


def _merge_ranges(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return tuple(out)


def parse_gbnf(text):
    """Parse GBNF ``text`` into ``{rule name: expression}``."""
    return _Parser(text).rules()


# --- NFA ---------------------------------------------------------------------
# Nodes live in parallel lists: kind[i] is CHAR, SPLIT or MATCH; a CHAR node
# has (ranges, negated) and one successor, a SPLIT node a list of successors.

_CHAR, _SPLIT, _MATCH = 0, 1, 2


class _Nfa:
    """A Thompson NFA built backwards (each piece compiled before its successor)."""

    def __init__(self, rules, root):
        self.rules = rules
        self.kind, self.test, self.succ = [], [], []
        self.match = self._node(_MATCH, None, [])
        self.start = self._build(('ref', root), self.match, ())

    def _node(self, kind, test, succ):
        self.kind.append(kind)
        self.test.append(test)
        self.succ.append(succ)
        return len(self.kind) - 1

    def _build(self, expr, nxt, stack):
        tag = expr[0]
        if tag == 'lit':
            for c in reversed(expr[1]):
                nxt = self._node(_CHAR, (((ord(c), ord(c)),), False), [nxt])
            return nxt
        if tag == 'cls':
            return self._node(_CHAR, (expr[1], expr[2]), [nxt])
        if tag == 'seq':
            for item in reversed(expr[1]):
                nxt = self._build(item, nxt, stack)
            return nxt
        if tag == 'alt':
            return self._node(_SPLIT, None, [self._build(a, nxt, stack) for a in expr[1]])
        if tag == 'ref':
            name = expr[1]
            if name not in self.rules:
                raise GrammarError(f'undefined rule {name}')
            if name in stack:
                cycle = ' -> '.join(stack[stack.index(name):] + (name,))
                raise GrammarError(f'recursive rule {name} ({cycle}) is not supported')
            return self._build(self.rules[name], nxt, stack + (name,))
        if tag == 'rep':
            _, body, lo, hi = expr
            if hi is None:
                loop = self._node(_SPLIT, None, [])
                self.succ[loop][:] = [self._build(body, loop, stack), nxt]
                nxt = loop
            else:
                after = nxt
                for _ in range(hi - lo):
                    nxt = self._node(_SPLIT, None, [self._build(body, nxt, stack), after])
            for _ in range(lo):
                nxt = self._build(body, nxt, stack)
            return nxt
        raise GrammarError(f'unknown expression {tag}')  # pragma: no cover


def _test_char(test, code):
    ranges, negated = test
    for lo, hi in ranges:
        if lo <= code <= hi:
            return not negated
    return negated


class GrammarMatcher:
    """
    Exact matcher for a GBNF grammar, one character at a time.

    States are opaque hashable values; ``None`` is the dead state (advance
    returns it when the text leaves the grammar).
    """

    def __init__(self, gbnf_text, root='root'):
        rules = parse_gbnf(gbnf_text)
        if root not in rules:
            raise GrammarError(f'no {root} rule')
        self._nfa = _Nfa(rules, root)
        self._closure_cache = {}
        self._step_cache = {}
        self._allowed_cache = {}
        self._start = self._closure((self._nfa.start,))

    def _closure(self, nodes):
        kind, succ = self._nfa.kind, self._nfa.succ
        seen, out, todo = set(), set(), list(nodes)
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if kind[n] == _SPLIT:
                todo.extend(succ[n])
            else:
                out.add(n)
        return frozenset(out)

    def start(self):
        """Return the state before any text."""
        return self._start

    def _step(self, state, ch):
        key = (state, ch)
        nxt = self._step_cache.get(key, False)
        if nxt is not False:
            return nxt
        code = ord(ch)
        kind, test, succ = self._nfa.kind, self._nfa.test, self._nfa.succ
        targets = [succ[n][0] for n in state if kind[n] == _CHAR and _test_char(test[n], code)]
        nxt = self._closure(targets) if targets else None
        self._step_cache[key] = nxt
        return nxt

    def advance(self, state, text):
        """Return the state after ``text`` from ``state``, or None if the grammar rejects it."""
        for ch in text:
            if state is None:
                return None
            state = self._step(state, ch)
        return state

    def is_accepting(self, state):
        """Return True when the text that led to ``state`` is a complete match."""
        return state is not None and self._nfa.match in state

    def allowed(self, state):
        """
        Describe the characters admissible next from ``state``.

        Returns a frozenset of one-character strings, or :data:`MANY` when the
        set is large (a negated class, ``.``, or more than MAX_LISTED_CHARS).
        """
        if state is None:
            return frozenset()
        cached = self._allowed_cache.get(state)
        if cached is not None:
            return cached
        kind, test = self._nfa.kind, self._nfa.test
        ranges = []
        result = None
        for n in state:
            if kind[n] != _CHAR:
                continue
            node_ranges, negated = test[n]
            if negated:
                result = MANY
                break
            ranges.extend(node_ranges)
        if result is None:
            merged = _merge_ranges(ranges)
            if sum(hi - lo + 1 for lo, hi in merged) > MAX_LISTED_CHARS:
                result = MANY
            else:
                result = frozenset(chr(c) for lo, hi in merged for c in range(lo, hi + 1))
        self._allowed_cache[state] = result
        return result

    def forced_continuation(self, state, max_chars=256):
        """
        Return the text the grammar forces from ``state``.

        That is the longest string s (up to ``max_chars``) such that at each
        step of s exactly one next character is admissible and no complete
        match is possible before the end of s.
        """
        out = []
        while state is not None and len(out) < max_chars and not self.is_accepting(state):
            nxt = self.allowed(state)
            if nxt == MANY or len(nxt) != 1:
                break
            (ch,) = nxt
            out.append(ch)
            state = self._step(state, ch)
        return ''.join(out)

    def fullmatch(self, text):
        """Return True when the whole of ``text`` matches the grammar."""
        return self.is_accepting(self.advance(self._start, text))
