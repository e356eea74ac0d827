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
The reference decoder: plain greedy decoding under a grammar, one token per step.

Every step masks the whole vocabulary with llama.cpp's grammar sampler, takes
the argmax, accepts it and evaluates it alone. It is slow (the mask costs
~21 ms a token with a 152k vocabulary on the demo CPU) and obviously right:
:class:`llm_planner.decoding.fast_decode.FastGrammarDecoder` is checked against
it (test/test_fast_decode.py, ``make bench``), and the backend uses it when
``fast_decode`` is off or a request has no grammar.
"""

from dataclasses import dataclass
import time

from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.decoding.session import LlamaSession


@dataclass
class DecodeResult:
    """
    The decoded text and how it was obtained.

    ``tokens`` excludes the end-of-generation token. ``n_sampled`` counts the
    tokens chosen at a normal step (including greedy's pick where a draft was
    rejected), ``n_forced`` the drafted tokens kept, so ``n_sampled +
    n_forced == len(tokens)``. ``n_drafted`` counts every drafted token,
    ``n_batches`` the model evaluations (for the fast decoder including the
    prompt's, which carries the first draft; for the plain loop, after it).
    ``n_full_masks`` counts the whole-vocabulary grammar applications,
    ``n_checks`` the single-token ones.
    """

    text: str
    tokens: list
    n_sampled: int = 0
    n_forced: int = 0
    n_rollbacks: int = 0
    n_full_masks: int = 0
    seconds: float = 0.0
    n_checks: int = 0
    n_drafted: int = 0
    n_batches: int = 0
    n_prompt_tokens: int = 0
    n_prompt_evaluated: int = 0
    stop_reason: str = ''


def deadline_check(deadline, what):
    """Raise PlannerError(TIMEOUT) once time.monotonic() is past ``deadline`` (None: never)."""
    if deadline is not None and time.monotonic() > deadline:
        raise PlannerError(ErrorCode.TIMEOUT, f'decoding ran past its deadline ({what})')


def ends_after(session, stats, tok, accept, max_tokens):
    """
    Take the chosen token ``tok`` (``accept(tok)``); return True when decoding ends there.

    Both decoders' one rule: no admissible token or end of generation stops
    before it; ``max_tokens`` taken or a full context stops after it
    (``stats.stop_reason`` says which; 'length' is left as set).
    """
    if tok is None or session.is_eog(tok):
        stats.stop_reason = 'no_admissible_token' if tok is None else 'eog'
        return True
    accept(tok)
    stats.n_sampled += 1
    if len(stats.tokens) >= max_tokens:
        return True
    if session.n_cached + 1 > session.n_ctx:
        stats.stop_reason = 'context_full'
        return True
    return False


def plain_greedy_decode(llama, gbnf_text, prompt, max_tokens, deadline=None):
    """
    Decode greedily under the grammar the plain way: one token per step, full-vocab mask.

    ``llama`` is a ``llama_cpp.Llama`` or its :class:`LlamaSession`;
    ``gbnf_text`` '' or None decodes without a grammar (the raw argmax);
    ``prompt`` is text or token ids, reusing the longest prefix the KV cache
    holds. The deadline is checked before each prompt chunk and each token.
    Returns a :class:`DecodeResult`.
    """
    t0 = time.monotonic()
    session = LlamaSession.of(llama)
    grammar = session.grammar(gbnf_text) if gbnf_text else None
    prompt_tokens = session.prompt_tokens(prompt)
    stats = DecodeResult('', [], n_prompt_tokens=len(prompt_tokens), stop_reason='length')
    pieces = []

    def accept(tok):
        if grammar is not None:
            grammar.accept(tok)
        pieces.append(session.piece(tok))
        stats.tokens.append(tok)

    try:
        deadline_check(deadline, 'prompt')
        stats.n_prompt_evaluated = session.start(
            prompt_tokens, check=lambda: deadline_check(deadline, 'prompt'))
        while len(stats.tokens) < max_tokens:
            deadline_check(deadline, 'decode')
            logits = session.logits(-1)
            if grammar is None:
                tok = int(logits.argmax())
            else:
                stats.n_full_masks += 1
                tok = grammar.masked_argmax(logits)
            if ends_after(session, stats, tok, accept, max_tokens):
                break
            session.run([tok], False)
            stats.n_batches += 1
    finally:
        session.logits_used()
        if grammar is not None:
            grammar.close()
        stats.seconds = time.monotonic() - t0
    stats.text = b''.join(pieces).decode('utf-8', errors='replace')
    return stats


__all__ = ['DecodeResult', 'deadline_check', 'ends_after', 'plain_greedy_decode']
