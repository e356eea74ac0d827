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
Fast greedy grammar-constrained decoding: check-first sampling and drafts.

Plain greedy constrained decoding evaluates one token at a time and, at each
step, masks the whole vocabulary with the grammar (llama.cpp checks every
piece of a 152k vocabulary: about 21 ms a token on the demo CPU) before taking
the argmax. :class:`FastGrammarDecoder` picks the same tokens for less work:

* check-first greedy: the raw argmax is checked alone against the grammar;
  only when the grammar rejects it are the next best candidates checked one by
  one, and only when none of those is admitted is the whole vocabulary masked.
  The pick is the highest-logit admitted token either way (ties go to the
  lowest id, as in llama.cpp's greedy sampler).
* drafts verified in one batch (speculative decoding with drafts that cost
  no model): jump-forward over the text the grammar forces (after
  ``$k = GET_L`` only ``OCATION(location_name:"`` can follow), chained with
  guesses (:mod:`llm_planner.decoding.drafting`: the variable a call most likely
  names, lines looked up in the prompt's examples), cut to what the grammar
  admits. The draft's canonical tokens are evaluated together with the
  pending token, with logits at every position; each drafted token is kept
  only if greedy decoding picks it there. At the first it does not, greedy's
  own pick is taken and the rest of the batch is removed from the KV cache.
  The first draft (the answer's start: the nearest example's first line, then
  what follows as above) is evaluated in the prompt's own batch.

A step costs about as much for 1 token as for a few (reading the weights
dominates; on a GPU even more so), so every kept draft token saves most of a
step and a rejected one costs little.

Output. The tokens are greedy's under the logits the model computed, so they
equal plain one-token-at-a-time decoding when a batch's logits equal those of
one-token steps. llama.cpp's CPU kernels do not promise that: attention and
matrix products split the work differently by batch size and thread count,
and on a quantized model the rounding difference grows to ~0.5 in the logits,
enough to flip a near-tie. ``max_batch`` chooses: any size (fast; outputs
checked equal to plain decoding on the benchmark's tasks, see ``make bench``),
or None to measure at start-up the largest batch whose logits are bitwise
those of one-token steps (:meth:`FastGrammarDecoder.measure_exact_batch`; 1,
i.e. no drafts, on the demo CPU with 2 threads).

The llama.cpp grammar sampler stays the judge of what is admissible; the
Python matcher of :mod:`llm_planner.decoding.gbnf_nfa` only proposes drafts. The loop
works on an existing ``llama_cpp.Llama`` through the low-level API and keeps
its ``n_tokens`` / ``input_ids`` equal to what the KV cache holds, so
``Llama``'s own prefix reuse and ours agree across requests.
"""

import codecs
import ctypes
from dataclasses import dataclass
import itertools
import time

import llama_cpp
from llm_planner.core.errors import ErrorCode, PlannerError
from llm_planner.decoding import drafting
from llm_planner.decoding.gbnf_nfa import GrammarMatcher, MANY
import numpy as np

# Candidates checked one by one (by falling logit) before masking the vocabulary.
MAX_CANDIDATES = 16
# Longest forced text drafted at once, in characters.
MAX_FORCED_CHARS = 256
# Pieces (forced text, guesses, lookups) chained into one draft, at most.
MAX_DRAFT_PARTS = 32
# Looked-up lines tried for one draft part, at most.
MAX_LOOKUP_TRIES = 8
# Admissible next characters from which a position counts as an open field.
OPEN_FIELD_CHARS = 10
# Draft text gathered per token of room in the batch (tokens average ~3 characters).
CHARS_PER_TOKEN = 4
# Largest batch (pending token + draft) tried when measuring which sizes are exact.
MAX_BATCH_PROBE = 16
# Text evaluated to measure that (any realistic text does).
PROBE_TEXT = ('DO: go, take\n$kitchen = FIND_PLACE(name:"kitchen")\nMOVE(to:$kitchen)\n'
              '$banana = LOOK_FOR(object_name:"banana")\nPICK(where:$banana)\n')
_TOKEN_DATA = np.dtype([('id', np.intc), ('logit', np.single), ('p', np.single)], align=True)


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


class _Session:
    """
    Low-level access to one ``llama_cpp.Llama``: eval, rollback, logits, pieces, grammar.

    Keeps ``llama.n_tokens`` and ``llama.input_ids`` equal to the KV cache
    contents of sequence 0 after every operation.
    """

    def __init__(self, llama):
        self.llama = llama
        self.ctx = llama.ctx
        self.vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.n_ctx = llama.n_ctx()
        self.n_batch = llama.n_batch
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.can_rollback = not (getattr(llama, '_is_recurrent', False)
                                 or getattr(llama, '_is_hybrid', False))
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._pieces = {}
        self._piece_buf = ctypes.create_string_buffer(256)
        self._one = llama_cpp.llama_token_data()
        self._one_array = llama_cpp.llama_token_data_array()
        self._all = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
        self._all['id'] = np.arange(self.n_vocab, dtype=np.intc)
        self._all_array = llama_cpp.llama_token_data_array()

    def close(self):
        if getattr(self, '_batch', None) is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None

    def __del__(self):
        self.close()

    # -- tokens and text --------------------------------------------------------

    def piece(self, token):
        """Return the bytes of ``token`` as the grammar sampler sees them (special rendered)."""
        piece = self._pieces.get(token)
        if piece is None:
            n = llama_cpp.llama_token_to_piece(
                self.vocab, token, self._piece_buf, len(self._piece_buf), 0, True)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self.vocab, token, buf, -n, 0, True)
                piece = buf.raw[:n]
            else:
                piece = self._piece_buf.raw[:n]
            self._pieces[token] = piece
        return piece

    def is_eog(self, token):
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def tokenize(self, data, add_special, parse_special):
        n_max = len(data) + 8
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(
            self.vocab, data, len(data), buf, n_max, add_special, parse_special)
        if n < 0:
            n_max = -n
            buf = (llama_cpp.llama_token * n_max)()
            n = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buf, n_max, add_special, parse_special)
        if n < 0:
            raise RuntimeError(f'tokenization failed ({n})')
        return list(buf[:n])

    def prompt_tokens(self, prompt):
        if isinstance(prompt, str):
            return self.tokenize(prompt.encode('utf-8'), True, True)
        return [int(t) for t in prompt]

    # -- grammar ------------------------------------------------------------------

    def new_grammar(self, gbnf_text):
        sampler = llama_cpp.llama_sampler_init_grammar(
            self.vocab, gbnf_text.encode('utf-8'), b'root')
        if not sampler:
            raise ValueError('llama.cpp rejected the grammar')
        return sampler

    def admits(self, grammar, token):
        """Return True when ``grammar`` admits ``token`` next (one-element apply)."""
        one = self._one
        one.id = token
        one.logit = 0.0
        one.p = 0.0
        arr = self._one_array
        arr.data = ctypes.pointer(one)
        arr.size = 1
        arr.selected = -1
        arr.sorted = False
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(arr))
        return arr.data[0].logit != -np.inf

    def masked_argmax(self, grammar, logits):
        """Mask the whole vocabulary with ``grammar``; return the best admitted token or None."""
        data = self._all
        data['logit'] = logits
        data['p'] = 0.0
        arr = self._all_array
        arr.data = data.ctypes.data_as(llama_cpp.llama_token_data_p)
        arr.size = self.n_vocab
        arr.selected = -1
        arr.sorted = False
        llama_cpp.llama_sampler_apply(grammar, ctypes.byref(arr))
        masked = data['logit']
        best = int(np.argmax(masked))
        if masked[best] == -np.inf:
            return None
        return best

    # -- KV cache -----------------------------------------------------------------

    def logits(self, i):
        """Return a view of the logits of output row ``i`` of the last batch (until next run)."""
        ptr = llama_cpp.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def run(self, tokens, all_logits=False, logits_from=None):
        """
        Evaluate ``tokens`` after the cached ones (one llama_decode per n_batch chunk).

        Logits are computed for the last token, and for every token from index
        ``logits_from`` on (0 when ``all_logits``).
        """
        llama = self.llama
        if all_logits:
            logits_from = 0
        if logits_from is None:
            logits_from = len(tokens)
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            n_past = llama.n_tokens
            if n_past + len(chunk) > self.n_ctx:
                raise PlannerError(ErrorCode.INTERNAL_ERROR, 'the context window is full')
            batch = self._batch
            batch.n_tokens = len(chunk)
            for i, tok in enumerate(chunk):
                batch.token[i] = tok
                batch.pos[i] = n_past + i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = start + i >= logits_from
            batch.logits[len(chunk) - 1] = True
            rc = llama_cpp.llama_decode(self.ctx, batch)
            if rc != 0:
                # A failed decode may leave part of the batch in the cache.
                self.truncate(n_past)
                raise PlannerError(ErrorCode.INTERNAL_ERROR, f'llama_decode failed ({rc})')
            llama.input_ids[n_past:n_past + len(chunk)] = chunk
            llama.n_tokens = n_past + len(chunk)

    def truncate(self, n_keep):
        """Remove every cached position from ``n_keep`` on; return False if impossible."""
        ok = llama_cpp.llama_memory_seq_rm(self.memory, 0, n_keep, -1)
        if not ok:
            llama_cpp.llama_memory_clear(self.memory, True)
            self.llama.n_tokens = 0
            return False
        self.llama.n_tokens = min(self.llama.n_tokens, n_keep)
        return True

    def reuse(self, prompt_tokens):
        """
        Keep the longest cached prefix of ``prompt_tokens`` (not all of it) in the KV cache.

        Returns its length: the tokens from there on are to be evaluated
        (at least the last one, whose logits are needed).
        """
        if not prompt_tokens:
            raise PlannerError(ErrorCode.INVALID_TASK, 'empty prompt')
        if len(prompt_tokens) >= self.n_ctx:
            raise PlannerError(ErrorCode.CONTEXT_OVERFLOW, 'the prompt does not fit the context')
        llama = self.llama
        cached = llama.input_ids[:llama.n_tokens]
        n = min(len(cached), len(prompt_tokens))
        same = np.flatnonzero(cached[:n] != np.asarray(prompt_tokens[:n], dtype=np.intc))
        keep = int(same[0]) if len(same) else n
        # The last prompt token is always evaluated: its logits are needed.
        keep = min(keep, len(prompt_tokens) - 1)
        if not self.truncate(keep):
            keep = 0
        # Llama.generate must not sample from logits it did not produce.
        if hasattr(llama, '_requires_eval'):
            llama._requires_eval = True
        return keep

    def start(self, prompt_tokens):
        """
        Make the KV cache hold ``prompt_tokens`` with the last one's logits ready.

        Reuses the longest common prefix with what is cached; returns the
        number of prompt tokens evaluated.
        """
        keep = self.reuse(prompt_tokens)
        self.run(prompt_tokens[keep:])
        return len(prompt_tokens) - keep


class _TextTracker:
    """Follows the generated bytes with the Python matcher, to find forced text."""

    def __init__(self, matcher):
        self.matcher = matcher
        self.state = matcher.start()
        self.decoder = codecs.getincrementaldecoder('utf-8')()
        self.text = ''

    def feed(self, piece):
        if self.state is None:
            return
        try:
            chars = self.decoder.decode(piece)
        except UnicodeDecodeError:
            self.state = None
            return
        self.text += chars
        self.state = self.matcher.advance(self.state, chars)

    def at_boundary(self):
        """Return True when the text is known and ends at a character boundary."""
        return self.state is not None and not self.decoder.getstate()[0]


def _is_word_char(ch):
    return ch.isalnum() or ch == '_'


def _deadline_check(deadline, what):
    if deadline is not None and time.monotonic() > deadline:
        raise PlannerError(ErrorCode.TIMEOUT, f'decoding ran past its deadline ({what})')


class FastGrammarDecoder:
    """
    Greedy decoding under a GBNF grammar with check-first sampling and drafts.

    ``decode`` returns the tokens plain greedy grammar-constrained decoding
    (:func:`plain_greedy_decode`) returns when batched logits equal
    one-token ones (see the module docstring), usually for much less work.
    """

    def __init__(self, llama, gbnf_text, jump_forward=True,
                 max_candidates=MAX_CANDIDATES, max_batch=None, guess=None, lookup=True):
        """
        Prepare decoding with ``llama`` under the grammar ``gbnf_text``.

        ``jump_forward`` drafts (forced text, then guesses); ``guess(text,
        prompt)`` returns a guess of what follows the text generated so far
        ('' for none), e.g. :func:`llm_planner.decoding.drafting.plan_guess`; ``lookup`` adds
        prompt lookup (:func:`llm_planner.decoding.drafting.lookups`); ``max_candidates`` is how
        many top tokens are checked one by one before masking the whole
        vocabulary. None of these changes the output.

        ``max_batch`` caps the tokens evaluated in one batch (the pending
        token plus the draft). None measures it: the largest size whose
        logits are bitwise those of one-token-at-a-time evaluation (see
        :meth:`measure_exact_batch`); 1 turns drafts off. A larger value than
        measured is faster but no longer guarantees plain greedy's output:
        near-ties may go the other way.
        """
        self.llama = llama
        self.gbnf_text = gbnf_text
        self.matcher = GrammarMatcher(gbnf_text)
        self.session = _Session(llama)
        self.jump_forward = jump_forward and self.session.can_rollback
        self.max_candidates = max_candidates
        self.guess = guess
        self.lookup = lookup
        self._grammar = self.session.new_grammar(gbnf_text)
        self._draft_cache = {}
        self._piece_token = None
        self._max_piece = 1
        if self.jump_forward and max_batch is None:
            max_batch = self.measure_exact_batch()
        self.max_batch = max(1, int(max_batch or 1))
        if self.max_batch < 2:
            self.jump_forward = False
        if self.jump_forward:
            self._vocab_index()

    def measure_exact_batch(self, limit=MAX_BATCH_PROBE):
        """
        Return the largest batch size k <= ``limit`` whose logits equal one-at-a-time ones.

        Jump-forward is exact only if evaluating tokens together gives bitwise
        the logits (and KV cache) of evaluating them one by one. llama.cpp's
        CPU kernels do not promise that: with the AVX2 repacked Q4_K weights,
        batches of up to 3 rows go through the same matrix-vector kernel as
        one row, larger ones through a matrix-matrix kernel whose logits
        differ by ~0.5. So every size 2..k is checked on PROBE_TEXT, stopping
        at the first that differs. The cache is left as it was (positions
        past it are used and removed).
        """
        session, llama = self.session, self.llama
        limit = max(1, min(limit, session.n_batch, session.n_ctx - 1))
        probe = session.tokenize(PROBE_TEXT.encode('utf-8'), False, False) or [0]
        while len(probe) < limit:
            probe = probe + probe
        base = llama.n_tokens
        if base + limit > session.n_ctx:
            session.truncate(0)
            base = 0
        best = 1
        try:
            # A short reference first: most models stop there, cheaply.
            for stage in (min(4, limit), limit):
                if stage <= best:
                    continue
                session.truncate(base)
                reference = []
                for tok in probe[:stage]:
                    session.run([tok], False)
                    reference.append(session.logits(-1).copy())
                for k in range(best + 1, stage + 1):
                    session.truncate(base)
                    session.run(probe[:k], True)
                    if not all(np.array_equal(session.logits(j), reference[j])
                               for j in range(k)):
                        return best
                    best = k
            return best
        finally:
            session.truncate(base)
            if hasattr(llama, '_requires_eval'):
                llama._requires_eval = True

    def close(self):
        """Free the llama.cpp objects of the decoder."""
        if getattr(self, '_grammar', None) is not None:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
        if getattr(self, 'session', None) is not None:
            self.session.close()

    def __del__(self):  # noqa: D105
        self.close()

    # -- drafting -------------------------------------------------------------

    def _vocab_index(self):
        """Build (once) the best token for each piece of the vocabulary."""
        if self._piece_token is None:
            session = self.session
            best = {}
            for tok in range(session.n_vocab):
                attr = llama_cpp.llama_vocab_get_attr(session.vocab, tok)
                if attr & (llama_cpp.LLAMA_TOKEN_ATTR_NORMAL
                           | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED):
                    rank = 0
                elif attr & llama_cpp.LLAMA_TOKEN_ATTR_BYTE:
                    rank = 1
                else:
                    rank = 2
                piece = session.piece(tok)
                if piece and (piece not in best or rank < best[piece][0]):
                    best[piece] = (rank, tok)
            self._piece_token = {piece: tok for piece, (rank, tok) in best.items() if rank < 2}
            self._max_piece = max(map(len, self._piece_token), default=1)
        return self._piece_token

    def _longest_match(self, data):
        """Tokens spelling ``data``, longest vocabulary piece first; stops where none fits."""
        self._vocab_index()
        toks, i = [], 0
        while i < len(data):
            for n in range(min(self._max_piece, len(data) - i), 0, -1):
                tok = self._piece_token.get(data[i:i + n])
                if tok is not None:
                    toks.append(tok)
                    i += n
                    break
            else:
                break
        return toks

    def draft_tokens(self, text):
        """
        Return tokens spelling ``text`` (or a prefix of it), canonical ones if possible.

        Tokenizers that prefix a space (SentencePiece) or escape spaces may not
        spell the text back; then the draft is the longest-piece-first match
        over the vocabulary.
        """
        toks = self._draft_cache.get(text)
        if toks is not None:
            return toks
        session = self.session
        data = text.encode('utf-8')
        toks = session.tokenize(data, False, False)
        if b''.join(session.piece(t) for t in toks) != data:
            toks = self._longest_match(data)
        self._draft_cache[text] = toks
        return toks

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
        (:func:`llm_planner.decoding.drafting.answer_start`); at an open field (a
        name starts) the word every earlier occurrence of this line continues
        with (:func:`llm_planner.decoding.drafting.consensus`); the guesser's guess;
        at a line start, how lines after one calling the same skill start
        (:func:`llm_planner.decoding.drafting.next_line`); else prompt lookup in
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
                line = drafting.answer_start(corpus)
                if line.startswith(draft) and len(line) > len(draft):
                    more = line[len(draft):]
                    # Up to its first variable: the example's names are its
                    # own; the guesser names this task's.
                    cut = more.find('$')
                    if cut >= 0:
                        more = more[:cut + 1]
            elif self.lookup and self._is_open(state) and not _is_word_char(so_far[-1:]):
                # An open field: what the examples always write here, if anything.
                more = drafting.consensus(so_far, corpus)
            if not more and self.guess is not None:
                more = self.guess(so_far, corpus)
            if not more and self.lookup and so_far.endswith('\n'):
                # A line starts: how lines after one calling the same skill start.
                more = drafting.next_line(so_far, corpus)
            if more:
                more, state = self._admitted(state, more)
            if not more and self.lookup:
                # The first looked-up line the grammar admits a part of.
                candidates = itertools.islice(drafting.lookups(so_far, corpus),
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
            if not more or drafting.repeats_line(so_far, more):
                break
            draft += more
        return draft

    # -- picking --------------------------------------------------------------

    def _pick(self, logits, stats):
        """Return greedy's pick under the grammar: the best admitted token, or None."""
        session, grammar = self.session, self._grammar
        top = int(np.argmax(logits))
        stats.n_checks += 1
        if session.admits(grammar, top):
            return top
        k = min(self.max_candidates, session.n_vocab - 1)
        if k > 1:
            part = np.argpartition(logits, -k)[-k:]
            kth = logits[part].min()
            cand = np.flatnonzero(logits >= kth)
            order = cand[np.lexsort((cand, -logits[cand]))]
            # Every token outside ``cand`` has a lower logit than all of ``cand``,
            # so the first admitted one in (logit desc, id asc) order is greedy's pick.
            for tok in order[1:]:
                stats.n_checks += 1
                if session.admits(grammar, int(tok)):
                    return int(tok)
        stats.n_full_masks += 1
        return session.masked_argmax(grammar, logits)

    # -- decoding -------------------------------------------------------------

    def _draft(self, tracker, corpus, max_new, n_head):
        """Return the draft tokens to evaluate after ``n_head`` pending tokens ([] for none)."""
        if not self.jump_forward or not tracker.at_boundary():
            return []
        session = self.session
        room = min(max_new, session.n_ctx - self.llama.n_tokens - n_head,
                   self.max_batch - n_head, session.n_batch - n_head)
        if room <= 0:
            return []
        text = self.draft_text(tracker.text, tracker.state, corpus, CHARS_PER_TOKEN * room)
        return self.draft_tokens(text)[:room] if text else []

    def _ends_here(self, tok, tracker):
        r"""
        Return True when the picked ``tok`` likely ends the answer (no draft after it).

        That is when the text may end after it and the model took the line's
        last piece without the line break although the vocabulary has that
        piece with one (``)`` where ``)\n`` exists): a line that goes on is
        written with it, so what follows is the end-of-generation token, which
        the next step's single token tells. A drafted next line would be
        evaluated for nothing.
        """
        if not self.jump_forward or not self.matcher.is_accepting(tracker.state):
            return False
        piece = self.session.piece(tok)
        return (not piece.endswith(b'\n')
                and piece + b'\n' in self._vocab_index())

    def _step(self, head, draft, stats, accept, max_tokens):
        """
        Evaluate ``head`` (pending tokens) and ``draft`` in one batch; keep the verified draft.

        Each drafted token is kept only if greedy decoding picks it after the
        tokens before it; at the first it does not, the rest of the draft is
        removed from the KV cache and greedy's pick is returned. Returns
        (next token to accept, or None if the grammar admits none; True when
        ``max_tokens`` tokens are out).
        """
        session = self.session
        base = self.llama.n_tokens
        tokens = list(head) + draft
        session.run(tokens, logits_from=len(head) - 1)
        # Logits rows are indexed within the last llama_decode chunk.
        last = len(head) - 1 - (len(tokens) - 1) // session.n_batch * session.n_batch
        stats.n_batches += 1
        stats.n_drafted += len(draft)
        for i, drafted in enumerate(draft):
            pick = self._pick(session.logits(last + i), stats)
            if pick != drafted:
                session.truncate(base + len(head) + i)
                stats.n_rollbacks += 1
                return pick, False
            accept(drafted)
            stats.n_forced += 1
        if len(stats.tokens) >= max_tokens:
            return None, True
        return self._pick(session.logits(last + len(draft)), stats), False

    def decode(self, prompt, max_tokens, deadline=None):
        """
        Decode greedily under the grammar after ``prompt`` (token ids or text).

        Stops at an end-of-generation token (admitted only where the grammar
        can end), after ``max_tokens`` tokens, or when the grammar admits no
        token. Raises PlannerError(TIMEOUT) once time.monotonic() passes
        ``deadline``.
        """
        t0 = time.monotonic()
        session = self.session
        llama = self.llama
        prompt_tokens = session.prompt_tokens(prompt)
        stats = DecodeResult('', [], n_prompt_tokens=len(prompt_tokens))
        llama_cpp.llama_sampler_reset(self._grammar)
        tracker = _TextTracker(self.matcher)
        pieces = []
        corpus = ''
        if self.jump_forward and self.lookup:
            corpus = b''.join(map(session.piece, prompt_tokens)).decode('utf-8', 'replace')

        def accept(tok):
            llama_cpp.llama_sampler_accept(self._grammar, tok)
            piece = session.piece(tok)
            pieces.append(piece)
            stats.tokens.append(tok)
            tracker.feed(piece)

        try:
            _deadline_check(deadline, 'prompt')
            keep = session.reuse(prompt_tokens)
            head = prompt_tokens[keep:]
            stats.n_prompt_evaluated = len(head)
            stats.stop_reason = 'length'
            if max_tokens <= 0:
                session.run(head)
                return stats
            # The first draft (the answer's start) goes in the prompt's batch.
            draft = self._draft(tracker, corpus, max_tokens, len(head))
            tok, done = self._step(head, draft, stats, accept, max_tokens)
            _deadline_check(deadline, 'prompt')
            while not done:
                if tok is None:
                    stats.stop_reason = 'no_admissible_token'
                    break
                if session.is_eog(tok):
                    stats.stop_reason = 'eog'
                    break
                accept(tok)
                stats.n_sampled += 1
                if len(stats.tokens) >= max_tokens:
                    break
                if llama.n_tokens + 1 > session.n_ctx:
                    stats.stop_reason = 'context_full'
                    break
                draft = [] if self._ends_here(tok, tracker) else \
                    self._draft(tracker, corpus, max_tokens - len(stats.tokens), 1)
                _deadline_check(deadline, 'decode')
                tok, done = self._step([tok], draft, stats, accept, max_tokens)
        finally:
            if hasattr(llama, '_requires_eval'):
                llama._requires_eval = True
            stats.seconds = time.monotonic() - t0
        stats.text = b''.join(pieces).decode('utf-8', errors='replace')
        return stats


def plain_greedy_decode(llama, gbnf_text, prompt, max_tokens, deadline=None):
    """
    Decode greedily under the grammar the plain way: one token per step, full-vocab mask.

    The reference for :class:`FastGrammarDecoder`: every step applies the
    llama.cpp grammar sampler to the whole vocabulary, takes the argmax,
    accepts it and evaluates it alone. Returns a :class:`DecodeResult`.
    """
    t0 = time.monotonic()
    session = _Session(llama)
    grammar = session.new_grammar(gbnf_text)
    prompt_tokens = session.prompt_tokens(prompt)
    stats = DecodeResult('', [], n_prompt_tokens=len(prompt_tokens), stop_reason='length')
    pieces = []
    try:
        _deadline_check(deadline, 'prompt')
        stats.n_prompt_evaluated = session.start(prompt_tokens)
        while len(stats.tokens) < max_tokens:
            _deadline_check(deadline, 'decode')
            stats.n_full_masks += 1
            tok = session.masked_argmax(grammar, session.logits(-1))
            if tok is None:
                stats.stop_reason = 'no_admissible_token'
                break
            if session.is_eog(tok):
                stats.stop_reason = 'eog'
                break
            llama_cpp.llama_sampler_accept(grammar, tok)
            pieces.append(session.piece(tok))
            stats.tokens.append(tok)
            stats.n_sampled += 1
            if len(stats.tokens) >= max_tokens:
                break
            if llama.n_tokens + 1 > session.n_ctx:
                stats.stop_reason = 'context_full'
                break
            session.run([tok], False)
            stats.n_batches += 1
    finally:
        if hasattr(llama, '_requires_eval'):
            llama._requires_eval = True
        llama_cpp.llama_sampler_free(grammar)
        session.close()
        stats.seconds = time.monotonic() - t0
    stats.text = b''.join(pieces).decode('utf-8', errors='replace')
    return stats
