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
Guesses of what the model writes next, for speculative decoding.

A guess never changes the output: :class:`llm_planner.decoding.fast_decode.FastGrammarDecoder`
evaluates the guessed tokens in one batch and keeps each only where greedy
decoding picks it. A good guess saves decoding steps (on the demo CPU a
step costs ~50 ms for one token, ~330 ms for 32); a wrong one costs the
batch's extra tokens (~10 ms each). The sources, all plain text functions:

* :func:`lookups` (prompt lookup decoding): the longest end of the text so far
  (prompt and output) that occurs earlier in it, and what followed it there,
  to the end of that line. Plans repeat the examples' patterns (a
  ``GO(to:$`` line after a GET_LOCATION line, ``GRAB(where:$`` after a SEARCH).
* :func:`answer_start`: the answer's first line (``OK``, ``BACK``,
  ``ERROR``) as in the example nearest the task (the prompt's last).
* :func:`next_line`: at a line start, how the line after the latest line
  calling the same skill starts (matched by skill, not by text).
* :func:`consensus`: at an open field, the word every earlier occurrence of
  the line continues with (``BACK`` then ``$start``).
* :func:`plan_guess`, what the plan language makes likely: a text argument of
  a call that stores its result is the variable's name (``$kitchen =
  GET_LOCATION(location_name:"`` -> ``kitchen"``), a ``$variable``
  argument is the variable stored last and not used yet (``GO(to:$`` ->
  ``kitchen)``), a new variable is named after the task's words and
  assigned by the skill the examples use for its kind (``$mug`` -> `` =
  SEARCH(``).
"""

import functools
import itertools
import re

from llm_planner.decoding.gbnf_nfa import MANY

# Longest forced text drafted at once, in characters.
MAX_FORCED_CHARS = 256
# Pieces (forced text, guesses, lookups) chained into one draft, at most.
MAX_DRAFT_PARTS = 32
# Looked-up lines tried for one draft part, at most.
MAX_LOOKUP_TRIES = 8
# Admissible next characters from which a position counts as an open field.
OPEN_FIELD_CHARS = 10
# Shortest and longest end of the text looked up in the corpus, in characters.
MIN_LOOKUP = 3
MAX_LOOKUP = 48

_NAMED = re.compile(r'^\$(\w+)(?: = ?| =)?$')
_ASSIGN_CALL = re.compile(r'^\$(\w+) = (\w+)\((\w+:")?', re.MULTILINE)
# A line up to its first variable: a new one, or a call's first variable argument.
_LINE_HEAD = re.compile(r'\$|\w+\((?:\w+:(?:"[^"\n]*"|\$\w+), )*\w+:\$')
_CALL = re.compile(r'^(?:\$\w+ = )?(\w+)\(')
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


def _ends_of_occurrences(whole, n):
    """Yield where earlier occurrences of the end of ``whole`` (n chars) end, latest first."""
    tail, end = whole[-n:], len(whole) - 1
    while True:
        i = whole.rfind(tail, 0, end)
        if i < 0:
            return
        yield i + n
        end = i + n - 1


def lookups(text, corpus, max_chars=MAX_LOOKUP, min_chars=MIN_LOOKUP):
    """
    Yield what followed each earlier occurrence of an end of ``corpus + text``.

    ``corpus`` is the prompt and ``text`` what the model wrote after it.
    Longest ends first, and for each the latest occurrence first (the
    output itself, then the examples nearest the task); each continuation
    runs to the end of its line (newline included). Ends shorter than
    ``min_chars`` characters are not looked up.
    """
    whole = corpus + text
    seen = set()
    for n in range(min(max_chars, len(whole) - 1), min_chars - 1, -1):
        for start in _ends_of_occurrences(whole, n):
            stop = whole.find('\n', start)
            stop = len(whole) if stop < 0 else stop + 1
            more = whole[start:stop]
            if more not in seen:
                seen.add(more)
                yield more


def consensus(text, corpus):
    r"""
    Return the word every earlier occurrence of the last two lines' text is followed by.

    The text looked up is the previous line, whole, and the current one
    (``\nBACK\n$``); it must occur at least twice before. '' when those
    occurrences are followed by different words, or by none. At an open field
    (a new variable's name) this tells a convention of the examples (``BACK``
    then ``$start``) from a choice (``OK`` then ``$kitchen`` or ``$banana``).
    A shorter end would let coincidences decide (``ce")\nGO(to:$`` ends both
    an office line and an entrance line).
    """
    whole = corpus + text
    before = whole.rfind('\n', 0, whole.rfind('\n'))
    if before < 0:
        return ''
    n = len(whole) - before
    matches = (_WORD.match(whole, start) for start in _ends_of_occurrences(whole, n))
    words = [m.group(0) if m else '' for m in matches]
    return words[0] if len(words) >= 2 and len(set(words)) == 1 else ''


def answer_start(corpus):
    """
    Return the first line of the answer to the example nearest the task ('' if none).

    ``corpus`` is the prompt: it ends with the line that opens the answer
    (``<|im_start|>assistant`` and its line break in ChatML), and the
    prompt puts the example most like the task last, so the latest earlier
    occurrence of that line opens that example's answer. Its first line
    (``BACK`` for a fetch task, ``OK`` for a go-to) is a better guess than
    a lookup of the task's last words, which the longest match would use.
    """
    if not corpus.endswith('\n'):
        return ''
    opener = corpus[corpus.rfind('\n', 0, len(corpus) - 1):]
    if len(opener) < 2:
        return ''
    at = corpus.rfind(opener, 0, len(corpus) - len(opener))
    if at < 0:
        return ''
    start = at + len(opener)
    stop = corpus.find('\n', start)
    return corpus[start:] if stop < 0 else corpus[start:stop + 1]


def next_line(text, corpus):
    """
    Return how the next line starts, after a line that calls a skill ('' if unknown).

    At a line start, the latest earlier line calling the same skill (in the
    output, else the example nearest the task) is found, and the line after
    it is returned up to its first variable: ``GRAB(where:$`` after a SEARCH
    line, ``$`` where a new variable is assigned next. Unlike
    :func:`lookups`, which matches text, this matches what the line does, so
    ``$mug = SEARCH(object_name:"mug")`` is followed like the examples'
    SEARCH lines, not like the output's latest ``")`` line.
    """
    if not text.endswith('\n'):
        return ''
    prev = text[text.rfind('\n', 0, len(text) - 1) + 1:-1]
    call = _CALL.match(prev)
    if not call:
        return ''
    before = corpus + text[:len(text) - len(prev) - 1]
    same = re.compile(rf'^(?:\$\w+ = )?{re.escape(call.group(1))}\(.*\n', re.MULTILINE)
    last = None
    for last in same.finditer(before):
        pass
    if last is None:
        return ''
    head = _LINE_HEAD.match(before, last.end())
    return head.group(0) if head else ''


@functools.lru_cache(maxsize=8)
def _places(prompt):
    """Return the names the prompt lists as places (``- name`` lines)."""
    return frozenset(re.findall(r'\n- (\w+)(?= \(|\n)', prompt))


@functools.lru_cache(maxsize=8)
def _place_aliases(prompt):
    """Return {other name: place} for the places the prompt lists as ``- name (also: a, b)``."""
    found = {}
    for name, listed in re.findall(r'\n- (\w+) \(also: ([^)\n]*)\)', prompt):
        for alias in listed.split(','):
            for word in _WORD.findall(alias.lower()):
                found.setdefault(word, name)
    return found


@functools.lru_cache(maxsize=8)
def _assignments(prompt):
    return _ASSIGN_CALL.findall(prompt)


def _assigning_skill(name, done, prompt):
    """
    Return the skill that likely assigns variable ``name`` ('' when unknown).

    The one that assigned it before (in the plan ``done`` so far, else in the
    ``prompt``), else the skill the examples most often assign a variable of
    its kind with (a place on the map: GET_LOCATION; anything else: SEARCH),
    among calls with a text argument.
    """
    calls = _assignments(prompt)
    for var, skill, _ in reversed(_ASSIGN_CALL.findall(done) + calls):
        if var == name:
            return skill
    places = _places(prompt)
    counts = {}
    for var, skill, text_arg in calls:
        if text_arg and (var in places) == (name in places):
            counts[skill] = counts.get(skill, 0) + 1
    return max(counts, key=lambda k: (counts[k], k)) if counts else ''


def repeats_line(text, more):
    """Return True when ``more`` completes a line that ``text`` (the answer so far) has."""
    if '\n' not in more:
        return False
    whole = text + more
    end = len(text) + more.index('\n')
    start = whole.rfind('\n', 0, end) + 1
    line = whole[start:end]
    return bool(line) and ('\n' + line + '\n') in ('\n' + whole[:start])


def _task_line(prompt):
    """Return the prompt's last line of plain words (the task), without template markup."""
    for line in reversed(_MARKUP.sub('\n', prompt).split('\n')):
        if len(line.split()) >= 2 and '$' not in line and '(' not in line:
            return line
    return ''


def _new_variable(done, prompt):
    """
    Return the likely name of the next variable: a word (or two joined by _) of the task.

    Candidates are what the plan has not assigned yet: the places the task
    names (listed in the prompt as ``- name``, or by another name listed
    with it: ``cuisine`` is the kitchen), the things it names (a word
    after an article or a possessive that is not a place), then its words
    the examples use as variables; each kind in the task's order. Places
    come first, as plans go somewhere before they search, except right
    after a line that uses a place (``GO(to:$kitchen)``): there the plan
    searches what it came for.
    """
    assigned = set(_ASSIGNED.findall(done))
    words = _WORD.findall(_task_line(prompt).lower())
    candidates = []
    for i, word in enumerate(words):
        candidates += ['_'.join(words[i:i + 2])] if i + 1 < len(words) else []
        candidates.append(word)
    known, aliases = _places(prompt), _place_aliases(prompt)
    places = [p for p in (c if c in known else aliases.get(c) for c in candidates)
              if p and p not in assigned]
    things = []
    for i in range(1, len(words)):
        word, pair = words[i], '_'.join(words[i:i + 2])
        if (words[i - 1] in _DETERMINERS and word not in _DETERMINERS
                and word not in assigned and not {word, pair} & (known | set(aliases))):
            things.append(word)
    usable = [c for c in candidates if c not in assigned and f'${c} = ' in prompt]
    # Arrived: the line before uses a place (GO(to:$kitchen)) rather than storing one.
    previous = done[done.rfind('\n', 0, len(done) - 1) + 1:]
    arrived = not previous.startswith('$') and any(
        name in known for name in _USED.findall(previous))
    first, second = (things, places) if arrived else (places, things)
    return (first or second or usable or [''])[0]


def _named(name, line, done, prompt):
    """
    Guess how a new variable's line goes on from ``line`` (``$name``, maybe `` =``).

    A name the task, the map or the examples use is taken as complete and
    followed by `` = SKILL(`` (see ``_assigning_skill``); a name that only
    starts one of those is completed with it (the task's words first).
    """
    if line.endswith('$' + name):
        known = _known_names(prompt)
        if name not in known:
            longer = [k for k in known if k.startswith(name)]
            return longer[0][len(name):] if longer else ''
    skill = _assigning_skill(name, done, prompt)
    return ' = '[len(line) - len(name) - 1:] + skill + '(' if skill else ''


@functools.lru_cache(maxsize=8)
def _known_names(prompt):
    """
    Return names a variable likely takes, likeliest first.

    The places the task names, the task's words, its word pairs, the other
    places, the examples' variables.
    """
    words = _WORD.findall(_task_line(prompt).lower())
    pairs = ['_'.join(words[i:i + 2]) for i in range(len(words) - 1)]
    places = _places(prompt)
    names = [n for n in pairs + words if n in places] + words + pairs
    names += sorted(places) + [var for var, _, _ in _assignments(prompt)]
    return list(dict.fromkeys(names))


def plan_guess(text, prompt=''):
    """
    Return a likely continuation of plan text ``text`` ('' when there is none).

    After ``$name = SKILL(arg:"`` the guess is ``name"`` (the place or
    object the variable is named after); after an ``arg:$`` it is the
    variable assigned last that no call has used yet (else the one assigned
    last) and ``)``; a new variable (``$`` at a line start) is named after a
    word of the task (the ``prompt``'s last line of words, see
    ``_new_variable``), and a name is followed by the skill that assigns
    such names (``$mug`` -> `` = SEARCH(``, see ``_named``). The decoder
    keeps the part the grammar admits.
    """
    line_start = text.rfind('\n') + 1
    line = text[line_start:]
    if line == '$' and prompt:
        return _new_variable(text[:line_start], prompt)
    named = _NAMED.match(line)
    if named and prompt:
        return _named(named.group(1), line, text[:line_start], prompt)
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


def _is_word_char(ch):
    return ch.isalnum() or ch == '_'


class DraftChain:
    """
    The draft after the text generated so far: every source above, chained, cut to the grammar.

    ``matcher`` (a :class:`llm_planner.decoding.gbnf_nfa.GrammarMatcher`)
    tells what the grammar forces and admits; ``guess(text, prompt)`` is a
    guesser such as :func:`plan_guess` (None for none); ``lookup`` turns on
    the prompt's examples as sources (answer start, consensus, next line,
    prompt lookup).
    """

    def __init__(self, matcher, guess=None, lookup=True):
        """Draft under ``matcher``'s grammar with ``guess`` and, if ``lookup``, the prompt."""
        self.matcher = matcher
        self.guess = guess
        self.lookup = lookup

    def _is_open(self, state):
        """Return True when the grammar admits many characters next (a name, a text)."""
        allowed = self.matcher.allowed(state)
        return allowed == MANY or len(allowed) >= OPEN_FIELD_CHARS

    def _admitted(self, state, text, open_stop=None):
        """
        Return (the longest prefix of ``text`` the grammar admits at ``state``, state after).

        With ``open_stop`` (the character before ``text``, '' for none), the
        prefix also ends where an open field starts: a word begins where the
        grammar admits many characters (a variable name, a text value). What
        the model writes there is its choice, which a looked-up line rarely
        guesses: drafting past it mostly wastes the batch.
        """
        n, prev = 0, open_stop
        for ch in text:
            if open_stop is not None and not _is_word_char(prev) and self._is_open(state):
                break
            prev = ch
            nxt = self.matcher.advance(state, ch)
            if nxt is None:
                break
            state = nxt
            n += 1
        return text[:n], state

    def _cut_at_guess(self, text, more):
        """Cut looked-up text ``more`` where the guesser has a guess of its own."""
        for i in range(1, len(more)):
            if self.guess(text + more[:i], ''):
                return more[:i]
        return more

    def draft_text(self, text, state, corpus, max_chars):
        """
        Return the draft text for generated ``text`` at matcher state ``state``.

        Chains, while there is room: the text the grammar forces; at the
        answer's start the first line of the nearest example's answer
        (:func:`llm_planner.decoding.answer_start`); at an open field (a
        name starts) the word every earlier occurrence of this line continues
        with (:func:`llm_planner.decoding.consensus`); the guesser's guess;
        at a line start, how lines after one calling the same skill start
        (:func:`llm_planner.decoding.next_line`); else prompt lookup in
        ``text`` and ``corpus`` (the prompt), stopped where an open field
        starts. Every guess is cut to the part the grammar admits.
        """
        draft = ''
        for _ in range(MAX_DRAFT_PARTS):
            if len(draft) >= max_chars:
                break
            added = self.matcher.forced_continuation(state, MAX_FORCED_CHARS)
            if added:
                state = self.matcher.advance(state, added)
                draft += added
                continue
            so_far = text + draft
            more = ''
            if self.lookup and not text:
                # The answer's first line: the nearest example's (after what
                # the grammar forced of it: ``DO: ``).
                line = answer_start(corpus)
                if line.startswith(draft) and len(line) > len(draft):
                    more = line[len(draft):]
                    # Up to its first variable: the example's names are its
                    # own; the guesser names this task's.
                    cut = more.find('$')
                    if cut >= 0:
                        more = more[:cut + 1]
            elif self.lookup and self._is_open(state) and not _is_word_char(so_far[-1:]):
                # An open field: what the examples always write here, if anything.
                more = consensus(so_far, corpus)
            if not more and self.guess is not None:
                more = self.guess(so_far, corpus)
            if not more and self.lookup and so_far.endswith('\n'):
                # A line starts: how lines after one calling the same skill start.
                more = next_line(so_far, corpus)
            if more:
                more, state = self._admitted(state, more)
            if not more and self.lookup:
                # The first looked-up line the grammar admits a part of.
                candidates = itertools.islice(lookups(so_far, corpus),
                                              MAX_LOOKUP_TRIES)
                for line in candidates:
                    if self.guess is not None:
                        line = self._cut_at_guess(so_far, line)
                    line, after = self._admitted(state, line, open_stop=so_far[-1:])
                    if line:
                        more, state = line, after
                        break
            # A plan does not repeat a line: lookups that would are matching
            # the draft itself, in a loop.
            if not more or repeats_line(so_far, more):
                break
            draft += more
        return draft


__all__ = ['DraftChain', 'answer_start', 'consensus', 'lookups', 'next_line', 'plan_guess',
           'repeats_line']
