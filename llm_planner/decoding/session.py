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
The one owner of a llama.cpp context's state: :class:`LlamaSession`.

All that touches the KV cache, ``Llama.n_tokens`` / ``input_ids``,
llama-cpp-python's private attributes or llama.cpp's C API (``llama_cpp.llama_*``)
is here; the decoders, the segment cache, the state file cache and the backend
call its methods (test/test_layout.py checks that no other file does that).
Sequence 0 holds the prompt and the answer; ``n_tokens`` / ``input_ids``
describe its cells (positions 0..n_tokens-1) after every method. Other
sequences (cached examples) are written only through ``eval_rows`` / ``seq_*``.
"""

import contextlib
import ctypes
import os
import threading

import llama_cpp
from llm_planner.core.errors import ErrorCode, PlannerError
import numpy as np

_TOKEN_DATA = np.dtype([('id', np.intc), ('logit', np.single), ('p', np.single)], align=True)

# Llama() takes its model parameters from llama_model_default_params() and has
# no argument for use_extra_bufts; cpu_repack=False swaps that function for
# the time of one construction, under this lock.
_PARAMS_LOCK = threading.Lock()


# -- the library ----------------------------------------------------------------

@contextlib.contextmanager
def model_params(context=None, **fields):
    """
    Make Llama() load the model with ``fields`` set in its llama_model_params.

    ``context`` (a dict) likewise sets fields of its llama_context_params.
    """
    swaps = [(name, values) for name, values in (('llama_model_default_params', fields),
                                                 ('llama_context_default_params', context))
             if values]
    if not swaps:
        yield
        return
    module = llama_cpp.llama_cpp
    with _PARAMS_LOCK:
        saved = {name: getattr(module, name) for name, _ in swaps}

        def defaults(name, values):
            def params():
                p = saved[name]()
                for field, value in values.items():
                    setattr(p, field, value)
                return p
            return params

        for name, values in swaps:
            setattr(module, name, defaults(name, values))
        try:
            yield
        finally:
            for name, function in saved.items():
                setattr(module, name, function)


def has_model_param(name):
    """Return True when this llama.cpp's llama_model_params has field ``name``."""
    return name in dict(llama_cpp.llama_model_params._fields_)


def has_context_param(name):
    """Return True when this llama.cpp's llama_context_params has field ``name``."""
    return name in dict(llama_cpp.llama_context_params._fields_)


def max_parallel_sequences():
    """Return how many sequences one llama.cpp context may hold."""
    return int(llama_cpp.llama_max_parallel_sequences())


def library_facts():
    """
    Return llama-cpp-python's version, library folder, and what this build supports.

    Keys: version, folder, system_info ('' when the binding lacks it),
    gpu_offload (None likewise), state_seq_version.
    """
    facts = {'version': getattr(llama_cpp, '__version__', ''),
             'folder': os.path.join(os.path.dirname(os.path.abspath(llama_cpp.__file__)), 'lib'),
             'system_info': '', 'gpu_offload': None,
             'state_seq_version': getattr(llama_cpp, 'LLAMA_STATE_SEQ_VERSION', None)}
    try:
        facts['system_info'] = llama_cpp.llama_print_system_info().decode(
            'utf-8', 'replace').strip()
    except Exception:  # noqa: B902 (an older binding: the rest remains)
        pass
    try:
        facts['gpu_offload'] = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # noqa: B902
        pass
    return facts


def load_llama(model_path, model_fields=None, context_fields=None, **kwargs):
    """Return a ``llama_cpp.Llama`` loaded with extra model and context parameter fields."""
    with model_params(context=context_fields, **(model_fields or {})):
        return llama_cpp.Llama(model_path=model_path, **kwargs)


# -- grammars -------------------------------------------------------------------

class Grammar:
    """A llama.cpp grammar sampler: what a GBNF grammar admits next, token by token."""

    def __init__(self, session, gbnf_text):
        """Parse ``gbnf_text`` (root rule ``root``); ValueError when llama.cpp rejects it."""
        self.session = session
        self._sampler = llama_cpp.llama_sampler_init_grammar(
            session.vocab, gbnf_text.encode('utf-8'), b'root')
        if not self._sampler:
            raise ValueError('llama.cpp rejected the grammar')
        self._one = llama_cpp.llama_token_data()
        self._one_array = llama_cpp.llama_token_data_array()

    def close(self):
        """Free the sampler."""
        if getattr(self, '_sampler', None):
            llama_cpp.llama_sampler_free(self._sampler)
            self._sampler = None

    def __del__(self):  # noqa: D105
        self.close()

    def reset(self):
        """Go back to the grammar's start."""
        llama_cpp.llama_sampler_reset(self._sampler)

    def accept(self, token):
        """Advance the grammar over ``token``."""
        llama_cpp.llama_sampler_accept(self._sampler, token)

    def admits(self, token):
        """Return True when the grammar admits ``token`` next (one-element apply)."""
        one = self._one
        one.id = token
        one.logit = 0.0
        one.p = 0.0
        arr = self._one_array
        arr.data = ctypes.pointer(one)
        arr.size = 1
        arr.selected = -1
        arr.sorted = False
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(arr))
        return arr.data[0].logit != -np.inf

    def masked_argmax(self, logits):
        """Mask the whole vocabulary; return the best admitted token or None."""
        session = self.session
        data = session._all
        data['logit'] = logits
        data['p'] = 0.0
        arr = session._all_array
        arr.data = data.ctypes.data_as(llama_cpp.llama_token_data_p)
        arr.size = session.n_vocab
        arr.selected = -1
        arr.sorted = False
        llama_cpp.llama_sampler_apply(self._sampler, ctypes.byref(arr))
        masked = data['logit']
        best = int(np.argmax(masked))
        if masked[best] == -np.inf:
            return None
        return best


# -- the session ----------------------------------------------------------------

class LlamaSession:
    """
    The llama.cpp state of one ``llama_cpp.Llama``: KV cache, tokens, logits, vocabulary.

    One per ``Llama`` (:meth:`of`): the decoders, the segment cache and the
    backend share it, so the bookkeeping of sequence 0 has one writer.
    """

    def __init__(self, llama):
        """Own the state of ``llama`` (use :meth:`of`, which makes one per Llama)."""
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
        self._all = np.zeros(self.n_vocab, dtype=_TOKEN_DATA)
        self._all['id'] = np.arange(self.n_vocab, dtype=np.intc)
        self._all_array = llama_cpp.llama_token_data_array()

    @classmethod
    def of(cls, llama):
        """Return the session of ``llama`` (a ``llama_cpp.Llama`` or a session), made once."""
        if isinstance(llama, LlamaSession):
            return llama
        session = getattr(llama, '_llm_planner_session', None)
        if session is None or session._batch is None:
            session = cls(llama)
            llama._llm_planner_session = session
        return session

    @classmethod
    def load(cls, model_path, model_fields=None, context_fields=None, **kwargs):
        """Load a model (see :func:`load_llama`) and return its session."""
        return cls.of(load_llama(model_path, model_fields, context_fields, **kwargs))

    def close(self, close_model=False):
        """Free the batch; with ``close_model`` the model and context too."""
        if getattr(self, '_batch', None) is not None:
            llama_cpp.llama_batch_free(self._batch)
            self._batch = None
        if close_model:
            self.llama.close()

    def __del__(self):  # noqa: D105
        self.close()

    def n_ctx_train(self):
        """Return the context length the model was trained with."""
        return self.llama._model.n_ctx_train()

    def token_text(self, token):
        """Return a token's text as the vocabulary stores it ('' for a negative id)."""
        return self.llama._model.token_get_text(token) if token >= 0 else ''

    def token_kind(self, token):
        """Return 0 for a normal or user-defined token, 1 for a byte token, 2 otherwise."""
        attr = llama_cpp.llama_vocab_get_attr(self.vocab, token)
        if attr & (llama_cpp.LLAMA_TOKEN_ATTR_NORMAL | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED):
            return 0
        if attr & llama_cpp.LLAMA_TOKEN_ATTR_BYTE:
            return 1
        return 2

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
        n = n_max = len(data) + 8
        for _ in range(2):  # the second time with the size llama_tokenize asked for
            buf = (llama_cpp.llama_token * n_max)()
            n = llama_cpp.llama_tokenize(
                self.vocab, data, len(data), buf, n_max, add_special, parse_special)
            if n >= 0:
                break
            n_max = -n
        if n < 0:
            raise RuntimeError(f'tokenization failed ({n})')
        return list(buf[:n])

    def prompt_tokens(self, prompt):
        """Return the tokens of ``prompt`` (text with BOS and special tokens, or token ids)."""
        if isinstance(prompt, str):
            return self.tokenize(prompt.encode('utf-8'), True, True)
        return [int(t) for t in prompt]

    def text_tokens(self, text):
        """Return the tokens of a prompt text as the backend sends it (one BOS, never none)."""
        llm = self.llama
        tokens = llm.tokenize(text.encode('utf-8'), add_bos=True, special=True)
        bos = llm.token_bos()
        # A chat template may write the BOS text itself; do not double it.
        if len(tokens) >= 2 and tokens[0] == bos and tokens[1] == bos:
            tokens = tokens[1:]
        if not tokens:
            tokens = [bos] if bos >= 0 else [llm.token_eos()]
        return tokens

    def grammar(self, gbnf_text):
        """Return a new :class:`Grammar` for ``gbnf_text`` (ValueError if llama.cpp rejects it)."""
        return Grammar(self, gbnf_text)

    @property
    def n_cached(self):
        """Return the number of tokens sequence 0 holds (``Llama.n_tokens``)."""
        return self.llama.n_tokens

    def cached_tokens(self, n=None):
        """Return the tokens sequence 0 holds (the first ``n`` of them)."""
        n = self.llama.n_tokens if n is None else min(n, self.llama.n_tokens)
        return [int(t) for t in self.llama.input_ids[:n]]

    def holds(self, tokens):
        """Return True when sequence 0 starts with ``tokens``."""
        n = len(tokens)
        return self.llama.n_tokens >= n and self.cached_tokens(n) == list(tokens)

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
            rc = self._decode([(tok, 0, n_past + i, start + i >= logits_from)
                               for i, tok in enumerate(chunk)])
            if rc != 0:
                # A failed decode may leave part of the batch in the cache.
                self.truncate(n_past)
                raise PlannerError(ErrorCode.INTERNAL_ERROR, f'llama_decode failed ({rc})')
            llama.input_ids[n_past:n_past + len(chunk)] = chunk
            llama.n_tokens = n_past + len(chunk)

    def _decode(self, rows):
        """Run llama_decode on (token, sequence, position, logits wanted) rows; the last's kept."""
        batch = self._batch
        batch.n_tokens = len(rows)
        for i, (tok, seq, pos, want) in enumerate(rows):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = want
        batch.logits[len(rows) - 1] = True
        return llama_cpp.llama_decode(self.ctx, batch)

    def truncate(self, n_keep):
        """Remove every cached position of sequence 0 from ``n_keep`` on; False if impossible."""
        ok = llama_cpp.llama_memory_seq_rm(self.memory, 0, n_keep, -1)
        if not ok:
            self.clear()
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
        self.logits_used()
        return keep

    def start(self, prompt_tokens, check=None):
        """
        Make the KV cache hold ``prompt_tokens``, the last one's logits ready; return how many ran.

        Reuses the longest common prefix with what is cached. ``check`` runs
        before each n_batch chunk (a deadline): what ran before it raises stays.
        """
        keep = self.reuse(prompt_tokens)
        for i in range(keep, len(prompt_tokens), self.n_batch):
            if check is not None:
                check()
            self.run(prompt_tokens[i:i + self.n_batch])
        return len(prompt_tokens) - keep

    def declare(self, tokens, logits_ready=False):
        """
        Record that sequence 0 holds ``tokens``, put there by the sequence methods or a state.

        ``logits_ready`` when the context's last logits are those after ``tokens``.
        """
        n = len(tokens)
        self.llama.input_ids[:n] = tokens
        self.llama.n_tokens = n
        if logits_ready and hasattr(self.llama, '_requires_eval'):
            self.llama._requires_eval = False

    def logits_used(self):
        """Mark the context's logits as not those ``Llama.generate`` expects (they are ours)."""
        if hasattr(self.llama, '_requires_eval'):
            self.llama._requires_eval = True

    def clear(self):
        """Empty every sequence of the KV cache."""
        llama_cpp.llama_memory_clear(self.memory, True)
        self.llama.n_tokens = 0

    def eval_rows(self, rows):
        """
        Evaluate (token, sequence, position) rows, n_batch at a time, no logits kept.

        Sequence 0's bookkeeping is left alone: rows are for other sequences.
        """
        for start in range(0, len(rows), self.n_batch):
            rc = self._decode([(tok, seq, pos, False)
                               for tok, seq, pos in rows[start:start + self.n_batch]])
            if rc != 0:
                raise RuntimeError(f'llama_decode failed ({rc}) while caching a segment')

    def seq_rm(self, seq, p0, p1):
        """Remove positions [p0, p1) of ``seq`` (-1: open end); for 0, declare() after."""
        return llama_cpp.llama_memory_seq_rm(self.memory, seq, p0, p1)

    def seq_cp(self, src, dst, p0, p1):
        """Give the cells of ``src`` at positions [p0, p1) sequence ``dst`` too (no copy)."""
        llama_cpp.llama_memory_seq_cp(self.memory, src, dst, p0, p1)

    def seq_add(self, seq, p0, p1, delta):
        """Move positions [p0, p1) of ``seq`` by ``delta`` (llama.cpp re-rotates the keys)."""
        llama_cpp.llama_memory_seq_add(self.memory, seq, p0, p1, delta)

    def read_state(self):
        """Return the context's whole state (KV of every sequence, logits) as a bytearray."""
        size = int(llama_cpp.llama_state_get_size(self.ctx))
        data = bytearray(size)
        written = int(llama_cpp.llama_state_get_data(
            self.ctx, (ctypes.c_uint8 * size).from_buffer(data), size))
        if written <= 0 or written > size:
            raise RuntimeError(f'llama_state_get_data wrote {written} of {size} bytes')
        del data[written:]
        return data

    def write_state(self, payload):
        """
        Restore a state read by :meth:`read_state`; return whether it took.

        ``payload`` must be a writable buffer (ctypes borrows it, no copy). On
        failure the context's memory is cleared: nothing half-restored is left.
        """
        size = len(payload)
        if size == 0:
            return False
        read = int(llama_cpp.llama_state_set_data(
            self.ctx, (ctypes.c_uint8 * size).from_buffer(payload), size))
        if read != size:
            self.clear()
            return False
        return True


__all__ = ['Grammar', 'LlamaSession', 'has_context_param', 'has_model_param', 'library_facts',
           'load_llama', 'max_parallel_sequences', 'model_params']
