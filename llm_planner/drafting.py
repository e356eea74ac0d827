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

A guess never changes the output: :class:`llm_planner.fast_decode.FastGrammarDecoder`
evaluates the guessed tokens in one batch and keeps each only where greedy
decoding picks it. A good guess saves a decoding step per token (a step costs
~40 ms on the demo CPU, a token more in a batch ~20 ms); a wrong one costs the
batch's extra tokens. Two sources, both plain text functions:

* :func:`lookup` (prompt lookup decoding): the longest end of the text so far
  (prompt and output) that occurs earlier in it, and what followed it there,
  to the end of that line. Plans repeat the examples' patterns (a
  ``GO(to:$`` line after a GET_LOCATION line, ``GRAB(where:$`` after a SEARCH).
* :func:`plan_guess`, what the plan language makes likely: a text argument of
  a call that stores its result is the variable's name (``$kitchen =
  GET_LOCATION(location_name:"`` -> ``kitchen"``), and a ``$variable``
  argument is the variable stored last and not used yet (``GO(to:$`` ->
  ``kitchen)``).
"""

import re

# Shortest and longest end of the text looked up in the corpus, in characters.
MIN_LOOKUP = 3
MAX_LOOKUP = 48

_ASSIGN_STRING = re.compile(r'\$(\w+) = \w+\((?:\w+:(?:"[^"\n]*"|\$\w+), )*\w+:"$')
_VAR_ARG = re.compile(r'[(,] ?\w+:\$$')
_ASSIGNED = re.compile(r'^\$(\w+) = ', re.MULTILINE)
_USED = re.compile(r'\w+:\$(\w+)')


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
        tail = whole[-n:]
        end = len(whole) - 1
        while True:
            i = whole.rfind(tail, 0, end)
            if i < 0:
                break
            start = i + n
            stop = whole.find('\n', start)
            stop = len(whole) if stop < 0 else stop + 1
            more = whole[start:stop]
            if more not in seen:
                seen.add(more)
                yield more
            end = i + n - 1


def lookup(text, corpus, max_chars=MAX_LOOKUP, min_chars=MIN_LOOKUP):
    """Return the first of :func:`lookups` ('' when there is none)."""
    return next(lookups(text, corpus, max_chars, min_chars), '')


def plan_guess(text):
    """
    Return a likely continuation of plan text ``text`` ('' when there is none).

    After ``$name = SKILL(arg:"`` the guess is ``name"`` (the place or
    object the variable is named after); after an ``arg:$`` it is the
    variable assigned last that no call has used yet (else the one assigned
    last) and ``)``. The decoder keeps the part the grammar admits.
    """
    line_start = text.rfind('\n') + 1
    line = text[line_start:]
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


__all__ = ['lookup', 'lookups', 'plan_guess']
