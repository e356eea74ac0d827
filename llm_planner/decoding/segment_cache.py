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
KV cache of prompt segments that follow a fixed prefix in any choice and order.

The planning prompt is a fixed prefix, then the few-shot examples most like
the task, then the task. Evaluating the examples costs more than decoding the
plan on a CPU (~300 tokens, ~1.5 s on the demo CPU). :class:`SegmentCache`
evaluates every example of the bank once, at load, each in its own llama.cpp
sequence right after the prefix (the prefix's cells are shared by all
sequences of a unified KV cache). For a prompt, it finds which segments
follow the prefix, moves each to its place with ``llama_memory_seq_add``
(llama.cpp re-rotates their keys: RoPE is relative) and lends it to sequence
0 with ``llama_memory_seq_cp`` (no copy: the cells get one more sequence id).
Only the task is then evaluated.

What changes: a cached example attends to the prefix but not to the examples
placed before it in this prompt (each was evaluated alone). The plan is the
model's greedy answer to that slightly different context; ``make eval``
measures the plan quality with it. Keys re-rotated many times gather f16
rounding, so a segment is evaluated afresh after ``max_moves`` moves.

Every KV operation goes through :class:`llm_planner.decoding.session.LlamaSession`,
which keeps the bookkeeping of sequence 0 (the tokens it holds) in step.
"""

from llm_planner.decoding.session import LlamaSession

# Moves of a segment (key re-rotations) before it is evaluated again.
MAX_MOVES = 32


class SegmentCache:
    """The KV of a bank of segments, each in its own sequence after a shared prefix."""

    def __init__(self, session, max_moves=MAX_MOVES):
        """Work on ``session`` (a LlamaSession or Llama) whose KV cache has enough sequences."""
        self.session = LlamaSession.of(session)
        self.max_moves = max_moves
        self.prefix = []
        self.segments = []  # token lists; segment i lives in sequence i + 1
        self._start = []  # current position of each segment's first token
        self._moves = []
        self._by_first = {}  # first token -> segment indices
        self.placed = []  # segment indices lent to sequence 0, in order

    def _eval_many(self, jobs):
        """
        Evaluate each (tokens, sequence, first position) of ``jobs``.

        Tokens of several sequences share a batch (up to ``n_batch``): a large
        batch evaluates several times more tokens a second than a small one.
        """
        self.session.eval_rows([(tok, seq, pos + j) for tokens, seq, pos in jobs
                                for j, tok in enumerate(tokens)])

    def build(self, prefix, segments):
        """
        Evaluate each of ``segments`` (token lists) after ``prefix`` (already in sequence 0).

        The cells of ``prefix`` (positions 0..len-1 of sequence 0) are shared
        with every segment's sequence. Returns the tokens evaluated.
        """
        session = self.session
        n = len(prefix)
        if not session.holds(prefix):
            raise ValueError('the prefix is not in the KV cache')
        self.unplace()
        session.truncate(n)
        self.adopt(prefix, segments)
        for i in range(len(self.segments)):
            seq = i + 1
            session.seq_rm(seq, -1, -1)
            session.seq_cp(0, seq, 0, n)
        # A segment is never split across batches where it fits in one.
        jobs, size = [], 0
        for i, seg in enumerate(self.segments):
            if jobs and size + len(seg) > session.n_batch:
                self._eval_many(jobs)
                jobs, size = [], 0
            jobs.append((seg, i + 1, n))
            size += len(seg)
        if jobs:
            self._eval_many(jobs)
        return sum(map(len, self.segments))

    def adopt(self, prefix, segments):
        """
        Take over the bookkeeping of a KV cache that holds ``prefix`` and ``segments`` as built.

        Sets what :meth:`build` sets, without evaluating: for a context
        whose state :meth:`build` left (saved and restored by
        :mod:`llm_planner.decoding.kv_state_cache`): the prefix in sequence 0, segment
        i at its first position after the prefix in sequence i + 1, nothing
        placed. ``segments`` as given to :meth:`build` (empty ones skipped).
        """
        n = len(prefix)
        self.session.declare(prefix)
        self.prefix = list(prefix)
        self.segments = [list(s) for s in segments if s]
        self._start = [n] * len(self.segments)
        self._moves = [0] * len(self.segments)
        self._by_first = {}
        for i, seg in enumerate(self.segments):
            self._by_first.setdefault(seg[0], []).append(i)
        self.placed = []

    def match(self, tokens):
        """Return the segment indices that follow the prefix in ``tokens``, in order."""
        n = len(self.prefix)
        if not self.segments or tokens[:n] != self.prefix:
            return []
        found, pos = [], n
        while pos < len(tokens):
            for i in self._by_first.get(tokens[pos], ()):
                seg = self.segments[i]
                if tokens[pos:pos + len(seg)] == seg and i not in found:
                    found.append(i)
                    pos += len(seg)
                    break
            else:
                break
        return found

    def unplace(self):
        """Take every lent segment back from sequence 0 (which keeps only the prefix)."""
        if self.placed:
            self.session.truncate(len(self.prefix))
            self.placed = []

    def place(self, tokens):
        """
        Make sequence 0 hold the prefix and the cached segments ``tokens`` starts with.

        Returns the number of leading tokens of ``tokens`` now in sequence 0
        (0 when it does not start with the prefix).
        """
        session = self.session
        found = self.match(tokens)
        n = len(self.prefix)
        if not found:
            return 0
        total = n + sum(len(self.segments[i]) for i in found)
        if found == self.placed and session.holds(tokens[:total]):
            return total  # already in place (e.g. a second call for the same prompt)
        self.unplace()
        if not session.holds(self.prefix):
            # Sequence 0 lost the prefix to another prompt: share it back from
            # a segment's sequence (no evaluation).
            session.seq_rm(0, -1, -1)
            session.seq_cp(1, 0, 0, n)
        session.truncate(n)
        held, pos = list(self.prefix), n
        for i in found:
            seg, seq = self.segments[i], i + 1
            if self._moves[i] >= self.max_moves:
                # Re-rotated too often: evaluate it afresh after the prefix.
                session.seq_rm(seq, n, -1)
                self._eval_many([(seg, seq, n)])
                self._start[i], self._moves[i] = n, 0
            delta = pos - self._start[i]
            if delta:
                session.seq_add(seq, self._start[i], self._start[i] + len(seg), delta)
                self._start[i] = pos
                self._moves[i] += 1
            session.seq_cp(seq, 0, pos, pos + len(seg))
            held += seg
            pos += len(seg)
        session.declare(held)
        self.placed = found
        return pos


__all__ = ['SegmentCache', 'MAX_MOVES']
