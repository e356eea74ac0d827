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
The small interface every inference backend implements.

A backend turns a prompt into text decoded greedily under a GBNF grammar.
Failures are reported as ``PlannerError``: ``MODEL_UNAVAILABLE`` when the
model (file or server) cannot be used, ``TIMEOUT`` when a deadline passed.
Deadlines are ``time.monotonic()`` values.
"""

import dataclasses
import os
import struct
import time

from llm_planner.core.errors import ErrorCode, PlannerError

GGUF_MAGIC = b'GGUF'
# GGUF versions llama.cpp reads (version 1 has been unsupported for long).
GGUF_VERSIONS = (2, 3)


@dataclasses.dataclass(frozen=True)
class Completion:
    """
    The result of one completion request.

    ``finish_reason`` is ``'stop'`` when the model (or the grammar) ended the
    text and ``'length'`` when ``max_tokens`` cut it off. ``tokens_cached`` is
    the number of prompt tokens whose KV cache was reused, when known.
    ``tokens_sampled`` and ``tokens_forced`` split ``tokens_generated`` into
    tokens chosen at a decoding step and drafted tokens accepted from a
    batch (text the grammar forces, guesses, prompt lookup); ``decode_steps``
    counts the model evaluations after the prompt's; when the backend knows.
    """

    text: str
    tokens_generated: int
    tokens_prompt: int
    seconds: float
    finish_reason: str = 'stop'
    tokens_cached: int = 0
    tokens_sampled: int = 0
    tokens_forced: int = 0
    decode_steps: int = 0


class Backend:
    """Interface of an inference backend; subclasses override the methods."""

    name = 'base'

    def load(self):
        """Make the model ready; raise PlannerError(MODEL_UNAVAILABLE) if it cannot be."""
        raise NotImplementedError

    def warm(self, prefix_text, segments=(), reserve=0):
        """
        Evaluate a fixed prompt prefix once so later requests reuse its KV cache.

        ``segments``: texts prompts may have right after the prefix, in any
        choice and order, that a backend may also cache (``reserve``: tokens
        a request needs besides them); a backend may ignore both.
        """

    def complete(self, prompt, grammar, max_tokens, deadline=None):
        """
        Decode greedily from ``prompt`` under the GBNF ``grammar``.

        ``grammar`` may be empty for unconstrained text. Generation stops
        after ``max_tokens`` tokens. When the ``time.monotonic()`` value
        ``deadline`` passes, generation stops and PlannerError(TIMEOUT) is
        raised. Return a ``Completion``.
        """
        raise NotImplementedError

    def set_draft_facts(self, facts):
        """
        Tell the backend what the next requests' answers are about, for its drafts.

        ``facts`` is a :class:`llm_planner.decoding.guesses.PlanFacts` (the
        catalog, the map and the prompt's examples as objects) or None. A
        backend that drafts (speculative decoding) may use it to guess; it
        never changes the output. The default ignores it.
        """

    def chat_template_prompt(self, messages):
        """
        Render ``messages`` with the model's own chat template.

        ``messages`` is a list of ``{'role': ..., 'content': ...}`` dicts. The
        result ends with the assistant turn opener, so that generation starts
        the assistant's reply. Return None when the model has no template.
        """
        return None

    def info(self):
        """Return a dict describing the backend and its model, for status reports."""
        return {'backend': self.name}

    def close(self):
        """Release the model; the backend can be loaded again afterwards."""

    def __enter__(self):
        """Load the backend for a ``with`` block."""
        self.load()
        return self

    def __exit__(self, *exc):
        """Close the backend at the end of a ``with`` block."""
        self.close()
        return False


def check_gguf_file(path):
    """
    Check that ``path`` is a readable GGUF file, without loading it.

    Raise PlannerError(MODEL_UNAVAILABLE) with a clear message when the file
    is missing, unreadable, not a GGUF file (wrong magic bytes) or of a GGUF
    version llama.cpp cannot read. Return the file size in bytes.
    """
    if not path:
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE, 'no model file configured')
    path = os.fspath(path)
    if not os.path.exists(path):
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                           f'model file not found: {path} (run scripts/fetch_model.py '
                           f'or `make model` for the demo model)')
    if not os.path.isfile(path):
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE, f'model path is not a file: {path}')
    try:
        with open(path, 'rb') as f:
            head = f.read(24)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                           f'cannot read model file {path}: {e.strerror or e}') from None
    if head[:4] != GGUF_MAGIC:
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                           f'not a GGUF model file: {path} (starts with {head[:4]!r}, '
                           f'expected {GGUF_MAGIC!r})')
    if len(head) < 24:
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                           f'truncated GGUF model file: {path} ({size} bytes)')
    version, = struct.unpack('<I', head[4:8])
    if version not in GGUF_VERSIONS:
        raise PlannerError(ErrorCode.MODEL_UNAVAILABLE,
                           f'unsupported GGUF version {version} in {path} '
                           f'(llama.cpp reads versions {GGUF_VERSIONS}; a big-endian '
                           f'file shows as a huge version)')
    return size


def check_deadline(deadline, what='request'):
    """Raise PlannerError(TIMEOUT) when the monotonic ``deadline`` has passed."""
    if deadline is not None and time.monotonic() >= deadline:
        raise PlannerError(ErrorCode.TIMEOUT, f'deadline passed before the {what} finished')
