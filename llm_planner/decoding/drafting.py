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
batch's extra tokens (~10 ms each). The sources, text functions over the
prompt and the answer so far (prompt lookup in a wide sense):

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
* :func:`llm_planner.decoding.guesses.plan_guess`: what the plan language
  makes likely (the variable a call names, a new variable named after the
  task's words), from :class:`~llm_planner.decoding.guesses.PlanFacts`: the
  catalog, the map and the prompt's examples as objects, which the planner
  passes down (``Backend.set_draft_facts``).

:class:`DraftChain` chains them into one draft, cut to what the grammar
admits: the one draft chain, used by the fast decoder.
"""

import itertools
import re

from llm_planner.decoding.gbnf_nfa import MANY
from llm_planner.decoding.guesses import plan_guess, PlanFacts

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

# A line up to its first variable: a new one, or a call's first variable argument.
_LINE_HEAD = re.compile(r'\$|\w+\((?:\w+:(?:"[^"\n]*"|\$\w+), )*\w+:\$')
_CALL = re.compile(r'^(?:\$\w+ = )?(\w+)\(')
_WORD = re.compile(r'\w+')


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


def repeats_line(text, more):
    """Return True when ``more`` completes a line that ``text`` (the answer so far) has."""
    if '\n' not in more:
        return False
    whole = text + more
    end = len(text) + more.index('\n')
    start = whole.rfind('\n', 0, end) + 1
    line = whole[start:end]
    return bool(line) and ('\n' + line + '\n') in ('\n' + whole[:start])


def _is_word_char(ch):
    return ch.isalnum() or ch == '_'


class DraftChain:
    """
    The draft after the text generated so far: every source above, chained, cut to the grammar.

    ``matcher`` (a :class:`llm_planner.decoding.gbnf_nfa.GrammarMatcher`)
    tells what the grammar forces and admits; ``guess(text, facts, corpus)``
    is a guesser such as :func:`plan_guess` (None for none), given the
    :class:`PlanFacts` of the request (the catalog, the map and the prompt's
    examples as objects; None when the caller gave none) and the prompt
    text; ``lookup`` turns on the prompt's text as a source (answer start,
    consensus, next line, prompt lookup).
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
            if self.guess(text + more[:i], None, ''):
                return more[:i]
        return more

    def draft_text(self, text, state, corpus, max_chars, facts=None):
        """
        Return the draft text for generated ``text`` at matcher state ``state``.

        Chains, while there is room: the text the grammar forces; at the
        answer's start the first line of the nearest example's answer
        (:func:`answer_start`); at an open field (a name starts) the word
        every earlier occurrence of this line continues with
        (:func:`consensus`); the guesser's guess (with ``facts``); at a line
        start, how lines after one calling the same skill start
        (:func:`next_line`); else prompt lookup in ``text`` and ``corpus``
        (the prompt), stopped where an open field starts. Every guess is cut
        to the part the grammar admits.
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
                more = self.guess(so_far, facts, corpus)
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


__all__ = ['DraftChain', 'PlanFacts', 'answer_start', 'consensus', 'lookups', 'next_line',
           'plan_guess', 'repeats_line']
