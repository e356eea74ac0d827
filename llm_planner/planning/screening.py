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
Task screening, before any model sees a task.

A task is text, not too long, without control characters, and no attempt to
change the planner's instructions.
"""

import re
import unicodedata

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.core.names import fold_accents

# Whitespace folded to a plain space in a task; any other control character
# (C0, C1, DEL), a lone surrogate or a bidirectional override refuses it.
_FOLDED_SPACES = frozenset('\t\n\r\v\f\u0085\u2028\u2029')
_BIDI_CONTROLS = frozenset('\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e'
                           '\u2066\u2067\u2068\u2069')

# Tasks that try to override the planner's instructions, or smuggle chat-template
# markup (special tokens) into the prompt, are refused before the model sees them.
_INJECTION_RES = tuple(re.compile(p) for p in (
    r'\b(ignore|disregard|forget|override|bypass|overrule|drop)\b[^.!?]{0,60}?'
    r'\b(instruction|rule|prompt|guideline|directive|programming|constraint|restriction)s?\b',
    r'\b(ignore[sz]?|oublie[sz]?|ne tiens pas compte)\b[^.!?]{0,60}?'
    r'\b(instructions?|regles?|consignes?|directives?)\b',
    r'\b(system prompt|developer mode|jailbreak|dan mode|god mode)\b',
    r'\bnew (instructions?|rules?|system)\b', r'\bnouvelles? (instructions?|regles?|consignes?)\b',
    r'\byou are (now|no longer)\b', r'\btu es (maintenant|desormais)\b',
    r'^\s*(system|assistant|developer)\s*:',
    r'<\|[^|<>]{1,40}\|>', r'\[/?inst\]', r'<</?sys>>', r'</?s>',
))


def looks_like_injection(task):
    """Return True when a task tries to change the planner's rules or inject markup."""
    folded = fold_accents(task)
    return any(r.search(folded) for r in _INJECTION_RES)


def check_task(task, max_chars):
    """
    Return the task with its whitespace folded, or raise PlannerError(INVALID_TASK).

    Tabs and line breaks become spaces and runs of spaces one space; other
    control characters refuse the task, as do empty and over-long tasks.
    """
    if not isinstance(task, str):
        raise PlannerError(ErrorCode.INVALID_TASK,
                           f'the task must be text, got {type(task).__name__}')
    if len(task) > 4 * max_chars + 1024:  # do not even scan a huge input
        raise PlannerError(ErrorCode.INVALID_TASK,
                           f'the task is {len(task)} characters long; the limit is {max_chars}')
    chars = []
    for i, c in enumerate(task):
        if c in _FOLDED_SPACES:
            chars.append(' ')
            continue
        category = unicodedata.category(c)
        if category in ('Cc', 'Cs') or c in _BIDI_CONTROLS:
            raise PlannerError(ErrorCode.INVALID_TASK,
                               f'the task holds a control character (U+{ord(c):04X} at '
                               f'position {i})')
        chars.append(c)
    text = ' '.join(''.join(chars).split(' '))
    text = re.sub(r' {2,}', ' ', text).strip()
    if not text:
        raise PlannerError(ErrorCode.INVALID_TASK, 'the task is empty')
    if len(text) > max_chars:
        raise PlannerError(ErrorCode.INVALID_TASK,
                           f'the task is {len(text)} characters long; the limit is {max_chars}')
    return text


def screen_task(task, max_chars):
    """
    Return the folded task, or raise PlannerError before any model is involved.

    INVALID_TASK for bad input (see :func:`check_task`); UNSUPPORTED_TASK for a
    task that tries to change the planner's instructions.
    """
    text = check_task(task, max_chars)
    if looks_like_injection(text):
        raise PlannerError(ErrorCode.UNSUPPORTED_TASK,
                           "the task tries to change the planner's instructions; refused")
    return text


__all__ = ['check_task', 'looks_like_injection', 'screen_task']
