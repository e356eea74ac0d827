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
In-process inference with llama-cpp-python.

Greedy decoding under a GBNF grammar. The KV cache of the previous request
is kept: a request evaluates only the prompt tokens after the longest prefix
it shares with what is already in the cache, so a fixed prompt prefix
(``warm()``) is evaluated once per process. Prompt evaluation runs in
batches with the deadline checked between them, and generation checks it
after every token. One lock serializes all use of the model.
"""

import os
import threading
import time

from llm_planner.backends.base import Backend, check_deadline, check_gguf_file, Completion
from llm_planner.core.errors import ErrorCode, PlannerError

# llama.cpp's OpenMP worker threads spin while they wait. On a CPU shared with
# other busy processes (the rest of a robot's software) that spinning slows
# inference several times over (measured: prompt evaluation 8 instead of 49
# tokens/s on 2 busy cores). Let them sleep instead, unless the user chose a
# policy. libgomp reads this once, when llama_cpp is first imported, so it
# only takes effect if that import happens after this module's.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')


def default_threads():
    """Return the number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LlamaBackend(Backend):
    """A GGUF model run in this process by llama-cpp-python."""

    name = 'llama.cpp'

    def __init__(self, model_path, n_ctx=2048, n_threads=None, n_gpu_layers=0, seed=0,
                 verbose=False, n_batch=512, flash_attn=True, fast_decode=True,
                 max_batch=None, guess=None, cpu_repack=False, max_segments=0,
                 state_cache=None):
        """
        Configure the backend; ``load()`` reads the model.

        ``n_threads`` None uses every CPU this process may run on;
        ``n_gpu_layers`` -1 offloads all layers (when llama.cpp was built
        with GPU support); ``n_ctx`` 0 takes the model's training context.
        ``fast_decode`` decodes grammar requests with
        :class:`llm_planner.decoding.fast_decode.FastGrammarDecoder` (check-first
        sampling, drafts verified in one batch; False: the reference decoder,
        :func:`llm_planner.decoding.greedy.plain_greedy_decode`), whose ``max_batch`` (None:
        the largest bitwise-exact size, measured) and ``guess`` (e.g.
        :func:`llm_planner.decoding.drafting.plan_guess`) are given here;
        ``flash_attn`` makes small batches evaluate bitwise like single
        tokens at short contexts. ``cpu_repack`` False loads the weights in
        llama.cpp's plain layout rather than its repacked CPU layout.
        ``max_segments`` > 0 makes a KV cache shared by that many sequences
        more, so that ``warm()`` can cache prompt segments (the few-shot
        examples, :mod:`llm_planner.decoding.segment_cache`). ``state_cache`` (a
        :class:`llm_planner.decoding.kv_state_cache.KvStateCache`) keeps what
        ``warm()`` evaluates in a file and restores it in later processes.
        """
        self.model_path = os.fspath(model_path) if model_path else model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = n_gpu_layers
        self.seed = seed
        self.verbose = verbose
        self.n_batch = n_batch
        self.flash_attn = flash_attn
        self.fast_decode = fast_decode
        self.max_batch = max_batch
        self.cpu_repack = cpu_repack
        self.repack_note = ''  # what the repack probe found (see repack_probe)
        self.max_segments = max(0, int(max_segments))
        self._segments = None  # SegmentCache, made by warm()
        self.state_cache = state_cache
        self.state_cache_result = 'off'  # of the last warm(): off, hit, miss, unsaved
        self.state_cache_seconds = 0.0  # spent reading and restoring, or saving, the file
        self.guess = guess
        self._decoders = {}  # grammar text -> FastGrammarDecoder
        self._draft_facts = None  # PlanFacts of the requests to come (set_draft_facts)
        self.load_seconds = None
        self._lock = threading.Lock()
        self._session = None  # the LlamaSession: the one owner of the llama.cpp state
        self._chat_formatter = None
        self._prefix_tokens = 0

    # -- life cycle -------------------------------------------------------

    def load(self):
        """Load the model (a no-op when loaded); raise MODEL_UNAVAILABLE on failure."""
        with self._lock:
            if self._session is not None:
                return
            check_gguf_file(self.model_path)
            try:
                from llm_planner.decoding import session as llama_session
            except ImportError as e:
                raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                                   f'llama-cpp-python is not installed: {e}') from None
            start = time.monotonic()
            # llama.cpp repacks quantized CPU weights for its AVX2/NEON matrix
            # kernels; on AVX-512 CPUs the plain layout was measured faster.
            fields = {} if self.cpu_repack else {'use_extra_bufts': False}
            if not llama_session.has_model_param('use_extra_bufts'):
                fields = {}
            elif self.cpu_repack and self.n_gpu_layers != -1:
                # Repacking crashed (SIGSEGV) on AMX CPUs: try it in a child first.
                from llm_planner.backends.repack_probe import probe
                ok, text = probe(self.model_path, self.n_threads)
                self.repack_note = f'cpu_repack: {text}' + (
                    '' if ok else '; loading the plain weight layout instead')
                if not ok:  # the node logs the note as a warning
                    self.cpu_repack = False
                    fields = {'use_extra_bufts': False}
            context = {}
            if not llama_session.has_context_param('kv_unified'):
                self.max_segments = 0  # no shared KV cache across sequences: no caching
            if self.max_segments:
                # One sequence per cached segment, all in one KV cache sharing the prefix.
                context = {'n_seq_max': min(self.max_segments + 1,
                                            llama_session.max_parallel_sequences()),
                           'kv_unified': True}
            try:
                session = llama_session.LlamaSession.load(
                    self.model_path, model_fields=fields, context_fields=context,
                    n_ctx=self.n_ctx,
                    n_batch=min(self.n_batch, self.n_ctx) if self.n_ctx else self.n_batch,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_gpu_layers=self.n_gpu_layers,
                    seed=self.seed,
                    verbose=self.verbose,
                    flash_attn=self.flash_attn,
                )
            except (ValueError, RuntimeError, OSError) as e:
                raise PlannerError(
                    ErrorCode.MODEL_UNAVAILABLE,
                    f'llama.cpp could not load {self.model_path}: {e} (the file may be '
                    f'truncated or corrupt, or its architecture unsupported by this '
                    f'llama.cpp build)') from None
            self.load_seconds = time.monotonic() - start
            self._session = session
            self._chat_formatter = self._make_chat_formatter(session)
            self._prefix_tokens = 0
            self._decoders = {}

    def close(self):
        """Free the model and its context."""
        with self._lock:
            session, self._session = self._session, None
            self._chat_formatter = None
            for decoder in (self._decoders or {}).values():
                decoder.close()
            self._decoders = {}
            self._segments = None
            if session is not None:
                session.close(close_model=True)

    @property
    def loaded(self):
        """Whether the model is loaded."""
        return self._session is not None

    @property
    def session(self):
        """Return the model's :class:`~llm_planner.decoding.session.LlamaSession` (or None)."""
        return self._session

    # -- requests ---------------------------------------------------------

    def warm(self, prefix_text, segments=(), reserve=0):
        """
        Evaluate ``prefix_text`` into the KV cache so requests starting with it reuse it.

        ``segments`` are texts that prompts may have right after the prefix,
        in any choice and order (the few-shot examples): with
        ``max_segments`` set, each is evaluated once here and reused (see
        :mod:`llm_planner.decoding.segment_cache`). ``reserve`` is the context a
        request needs besides them; CONTEXT_OVERFLOW when it does not fit.
        """
        with self._lock:
            session = self._require_loaded()
            tokens = session.text_tokens(prefix_text)
            if len(tokens) >= session.n_ctx:
                raise PlannerError(ErrorCode.CONTEXT_OVERFLOW,
                                   f'prompt prefix of {len(tokens)} tokens does not fit '
                                   f'the context of {session.n_ctx} tokens')
            if self._segments is not None:
                self._segments.unplace()
            segments = list(segments)[:self.max_segments]
            if not session.can_rollback:
                segments = []  # no partial KV removal: cached segments could not be lent
            # Each segment's tokens as they come after the prefix (a tokenizer
            # may treat the start of a text differently); one that does not
            # split off the prefix cleanly is not cached.
            seg_tokens = []
            for text in segments:
                both = session.text_tokens(prefix_text + text)
                seg_tokens.append(both[len(tokens):] if both[:len(tokens)] == tokens else [])
            need = len(tokens) + sum(map(len, seg_tokens)) + reserve
            if segments and need > session.n_ctx:
                raise PlannerError(ErrorCode.CONTEXT_OVERFLOW,
                                   f'n_ctx {session.n_ctx} is too small to cache the '
                                   f'{len(segments)} examples: {need} tokens needed (raise '
                                   f'n_ctx or turn cache_examples off)')
            key = self._state_key(prefix_text, tokens, segments, seg_tokens)
            if key is not None and self._restore_state(key, tokens, seg_tokens):
                return
            if not (session.n_cached == len(tokens) and session.holds(tokens)):
                # Evaluated again, even the last token alone, its KV would
                # differ in the last bits (another batch size): keep it.
                session.start(tokens)
            self._prefix_tokens = len(tokens)
            if segments:
                self._segment_cache().build(tokens, seg_tokens)
            if key is not None:
                self._save_state(key)

    # -- persisted KV state (llm_planner.decoding.kv_state_cache) --------------------

    def _state_key(self, prefix_text, tokens, segments, seg_tokens):
        """Return (digest, facts JSON) of warm()'s state, or None without a state cache."""
        if self.state_cache is None:
            self.state_cache_result = 'off'
            return None
        from llm_planner.decoding import kv_state_cache
        try:
            facts = kv_state_cache.state_facts(
                self._session.llama, self.model_path, prefix_text, tokens, segments,
                seg_tokens, extra={'cpu_repack': bool(self.cpu_repack)})
        except Exception as e:  # noqa: B902 (e.g. the model file went away): no file, evaluate
            self.state_cache.log(f'KV state cache: cannot make the key ({type(e).__name__}: '
                                 f'{e}); evaluating the prompt without a file')
            self.state_cache_result = 'off'
            return None
        return kv_state_cache.key_of(facts)

    def _restore_state(self, key, tokens, seg_tokens):
        """Restore warm()'s state from the cache file of ``key``; return whether it did."""
        from llm_planner.decoding import kv_state_cache
        session = self._session
        start = time.monotonic()
        why = 'llama.cpp refused it'
        try:
            payload = self.state_cache.load(key[0])
            if payload is None:
                return False
            restored = kv_state_cache.write_context_state(session, payload)
            del payload
        except Exception as e:  # noqa: B902 (e.g. MemoryError): evaluate instead
            restored, why = False, f'{type(e).__name__}: {e}'
        self.state_cache_seconds = time.monotonic() - start
        if not restored:
            self.state_cache.log(f'KV state cache: ignoring {self.state_cache.path_for(key[0])}:'
                                 f' {why}; evaluating the prompt again')
            session.clear()
            if self._segments is not None:  # its sequences are gone
                self._segments.adopt([], [])
            return False
        # The Python side as a fresh evaluation leaves it.
        session.declare(tokens, logits_ready=True)
        self._prefix_tokens = len(tokens)
        if any(seg_tokens):
            self._segment_cache().adopt(tokens, seg_tokens)
        elif self._segments is not None:  # the restored state has no segments to lend
            self._segments.adopt(tokens, [])
        self.state_cache_result = 'hit'
        return True

    def _save_state(self, key):
        """Write the state warm() just evaluated to the cache file of ``key``."""
        from llm_planner.decoding import kv_state_cache
        start = time.monotonic()
        try:
            payload = kv_state_cache.read_context_state(self._session)
            saved = self.state_cache.save(key[0], key[1], payload)
        except Exception as e:  # noqa: B902 (a file not written must not fail the load)
            self.state_cache.log(f'KV state cache: cannot save the state ({type(e).__name__}: '
                                 f'{e}); not saved')
            self.state_cache_result = 'unsaved'
            return
        self.state_cache_seconds = time.monotonic() - start
        self.state_cache_result = 'miss' if saved else 'unsaved'

    def complete(self, prompt, grammar, max_tokens, deadline=None):
        """Decode greedily from ``prompt`` under ``grammar``; see ``Backend.complete``."""
        if not self._acquire(deadline):
            raise PlannerError(ErrorCode.TIMEOUT,
                               'deadline passed while waiting for the model (busy)')
        try:
            return self._complete(prompt, grammar, max_tokens, deadline)
        finally:
            self._lock.release()

    def set_draft_facts(self, facts):
        """Guess the next requests' answers from ``facts`` (see ``Backend.set_draft_facts``)."""
        with self._lock:
            self._draft_facts = facts

    def chat_template_prompt(self, messages):
        """Render ``messages`` with the GGUF's chat template, or return None if it has none."""
        with self._lock:
            self._require_loaded()
            formatter = self._chat_formatter
        if formatter is None:
            return None
        try:
            return formatter(messages=list(messages)).prompt
        except Exception as e:  # jinja2 errors and the template's raise_exception()
            raise PlannerError(ErrorCode.INTERNAL_ERROR,
                               f'the model chat template failed on the messages: {e}') from None

    def info(self):
        """Return the backend's settings and model facts."""
        info = {
            'backend': self.name,
            'model_path': self.model_path,
            'loaded': self._session is not None,
            'n_ctx': self.n_ctx,
            'n_threads': self.n_threads,
            'n_gpu_layers': self.n_gpu_layers,
            'seed': self.seed,
            'load_seconds': self.load_seconds,
            'cpu_repack': self.cpu_repack,
            'repack_note': self.repack_note,
            'decode_batch': self.max_batch or 0,
            'cached_segments': len(self._segments.segments) if self._segments else 0,
            'kv_cache': self.state_cache_result,
            'kv_cache_seconds': self.state_cache_seconds,
            'kv_cache_dir': self.state_cache.directory if self.state_cache else '',
        }
        session = self._session
        if session is not None:
            from llm_planner.decoding.session import library_facts
            library = library_facts()
            metadata = session.llama.metadata
            info.update({
                'n_ctx': session.n_ctx,
                'n_ctx_train': session.n_ctx_train(),
                'n_vocab': session.n_vocab,
                'model_name': metadata.get('general.name', ''),
                'architecture': metadata.get('general.architecture', ''),
                'chat_template': self._chat_formatter is not None,
                'gpu_offload_supported': bool(library['gpu_offload']),
                'llama_cpp_python': library['version'],
                'prefix_tokens': self._prefix_tokens,
                'cached_tokens': session.n_cached,
                'omp_wait_policy': os.environ.get('OMP_WAIT_POLICY', ''),
            })
        return info

    # -- internals --------------------------------------------------------

    def _acquire(self, deadline):
        if deadline is None:
            return self._lock.acquire()
        return self._lock.acquire(timeout=max(0.0, deadline - time.monotonic()))

    def _require_loaded(self):
        if self._session is None:
            raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                               f'model not loaded: {self.model_path} (call load() first)')
        return self._session

    def _segment_cache(self):
        """Return the SegmentCache, made on first use."""
        if self._segments is None:
            from llm_planner.decoding.segment_cache import SegmentCache
            self._segments = SegmentCache(self._session)
        return self._segments

    def _complete(self, prompt, grammar, max_tokens, deadline):
        session = self._require_loaded()
        check_deadline(deadline)
        start = time.monotonic()
        tokens = session.text_tokens(prompt)
        n_ctx = session.n_ctx
        if len(tokens) >= n_ctx:
            raise PlannerError(ErrorCode.CONTEXT_OVERFLOW,
                               f'prompt of {len(tokens)} tokens does not fit the context of '
                               f'{n_ctx} tokens')
        max_tokens = max(1, min(int(max_tokens), n_ctx - len(tokens)))
        if self._segments is not None:
            self._segments.place(tokens)
        if grammar and self.fast_decode:
            result = self.decoder(grammar).decode(tokens, max_tokens, deadline,
                                                  facts=self._draft_facts)
        else:
            # The reference decoder: one token per step, the whole vocabulary masked.
            from llm_planner.decoding.greedy import plain_greedy_decode
            if grammar:
                self._check_grammar(grammar)
            result = plain_greedy_decode(session, grammar, tokens, max_tokens, deadline)
        return Completion(
            text=result.text,
            tokens_generated=len(result.tokens),
            tokens_prompt=len(tokens),
            seconds=time.monotonic() - start,
            finish_reason='length' if result.stop_reason in ('length', 'context_full')
            else 'stop',
            tokens_cached=len(tokens) - result.n_prompt_evaluated,
            tokens_sampled=result.n_sampled,
            tokens_forced=result.n_forced,
            decode_steps=max(0, result.n_batches - 1),
        )

    def _check_grammar(self, grammar):
        """Raise INTERNAL_ERROR when llama.cpp rejects the GBNF ``grammar``."""
        try:
            self._session.grammar(grammar).close()
        except ValueError:
            raise PlannerError(ErrorCode.INTERNAL_ERROR,
                               'invalid GBNF grammar (llama.cpp rejected it; its parser '
                               'message is on stderr)') from None

    def decoder(self, grammar):
        """
        Return the FastGrammarDecoder for ``grammar``, made on first use.

        Making one checks the grammar with llama.cpp (and, with ``max_batch``
        None, measures the largest bitwise-exact batch: a fraction of a second,
        once per grammar);
        ``warm()`` callers may call this at load time to keep it off the
        first request.
        """
        decoder = self._decoders.get(grammar)
        if decoder is None:
            from llm_planner.decoding.fast_decode import FastGrammarDecoder
            self._check_grammar(grammar)
            decoder = FastGrammarDecoder(self._require_loaded(), grammar,
                                         max_batch=self.max_batch, guess=self.guess)
            self._decoders[grammar] = decoder
        return decoder

    def prepare(self, grammar):
        """Make the decoder for ``grammar`` now rather than on the first request."""
        with self._lock:
            self._require_loaded()
            if grammar and self.fast_decode:
                self.decoder(grammar)

    def _make_chat_formatter(self, session):
        template = session.llama.metadata.get('tokenizer.chat_template')
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        token_text = session.token_text
        try:
            return Jinja2ChatFormatter(
                template=template,
                eos_token=token_text(session.llama.token_eos()),
                bos_token=token_text(session.llama.token_bos()),
                add_generation_prompt=True,
            )
        except Exception:  # a template jinja2 cannot compile: behave as if there were none
            return None


def from_config(config, guess=None, max_segments=0, **hints):
    """
    Return the LlamaBackend a PlannerConfig asks for (the registry's ``llama``).

    ``guess`` drafts (see :mod:`llm_planner.decoding.drafting`); ``max_segments``
    examples may have their KV cached. MODEL_UNAVAILABLE when the model file
    does not exist.
    """
    path = config.model_file
    if not os.path.isfile(path):
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE, f'model file not found: {path}')
    state_cache = None
    if config.kv_cache_path:
        from llm_planner.decoding.kv_state_cache import KvStateCache
        state_cache = KvStateCache(config.kv_cache_path, config.kv_cache_max_mb << 20)
    return LlamaBackend(path, n_ctx=config.n_ctx, n_threads=config.n_threads or None,
                        n_gpu_layers=config.n_gpu_layers, seed=0, verbose=False,
                        max_batch=config.decode_batch or None, guess=guess,
                        cpu_repack=config.cpu_repack, max_segments=max_segments,
                        state_cache=state_cache)
