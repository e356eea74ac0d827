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
Files of evaluated KV state: the prompt prefix and the example bank, kept across restarts.

Evaluating the planning prompt's prefix and its cached examples costs most
of the time to ready (~4k tokens, ~20 s on the demo CPU). After a fresh
evaluation, :class:`KvStateCache` keeps llama.cpp's context state (the KV
cells of every sequence and the last logits: ``llama_state_get_data``) in a
file; the next process with the same model, settings and prompt restores it
(``llama_state_set_data``) instead of evaluating.

A file is found by its key: a SHA-256 over everything that changes the
state (:func:`state_facts`): the model file's identity (size, mtime, a hash
of its first MiB and last 64 KiB), llama-cpp-python's version and its
libraries' identity (a rebuilt llama.cpp misses), the CPU features and GPU
support llama.cpp reports, the context and model parameters (n_ctx, the KV
types, n_batch/n_ubatch, flash attention, n_seq_max, n_gpu_layers, ...; not
the thread count or the seed), and the prompt's texts and tokens. The
key's facts are kept in the file as JSON, so that ``kv-*.kvstate`` files
can be told apart by hand.

File layout (little-endian): the header :data:`HEADER` (magic
:data:`MAGIC`, :data:`FORMAT_VERSION`, the key facts' JSON length, the key
digest, the payload length, a CRC-32 of JSON and payload), then the JSON,
then the payload (llama.cpp's state). A file is checked in full before a
byte of it reaches llama.cpp: wrong magic, another format version, another
key, a length that does not match the file (truncated) or a wrong checksum
(corrupt) each give one warning line and a miss; the caller then evaluates
and writes the file again. Files are written to a temporary name and
renamed (atomic on POSIX), so a reader never sees half a file. The folder
is bounded (``max_bytes``): the least recently used files go first (a hit
refreshes a file's mtime).
"""

import hashlib
import json
import logging
import mmap
import os
import struct
import tempfile
import time
import zlib

MAGIC = b'LLMPKVS\x00'
FORMAT_VERSION = 1
# magic, format version, JSON length, key digest (SHA-256), payload length, CRC-32
HEADER = struct.Struct('<8sII32sQI')
FILE_PREFIX = 'kv-'
FILE_SUFFIX = '.kvstate'
# The parts of a model file hashed for its identity (with its size and mtime).
HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 16
# Temporary files older than this (a writer that died) are removed by the next writer.
STALE_TMP_SECONDS = 3600.0
# kv_cache_dir value for the user's cache folder.
AUTO = 'auto'

# Parameter fields that do not change the evaluated state (or are pointers).
_IGNORED_FIELDS = frozenset((
    'n_threads', 'n_threads_batch', 'no_perf', 'cb_eval', 'cb_eval_user_data',
    'abort_callback', 'abort_callback_data', 'samplers', 'n_samplers', 'ctx_other',
    'devices', 'tensor_buft_overrides', 'tensor_split', 'progress_callback',
    'progress_callback_user_data', 'kv_overrides', 'load_mode', 'lazy_mode',
    'use_mmap', 'use_mlock', 'use_direct_io', 'check_tensors',
))

_log = logging.getLogger('llm_planner.kv_cache')


def user_cache_dir():
    """Return the user's cache folder for llm_planner ($XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get('XDG_CACHE_HOME', '').strip()
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'llm_planner')


def resolve_cache_dir(value):
    """
    Return the folder a ``kv_cache_dir`` setting names, or None for "" (no cache).

    ``auto`` is :func:`user_cache_dir`; ``~`` is expanded and a relative
    path resolves against the working directory.
    """
    value = (value or '').strip()
    if not value:
        return None
    if value == AUTO:
        return user_cache_dir()
    return os.path.abspath(os.path.expanduser(value))


def file_identity(path):
    """Return the identity of a (model) file: size, mtime and a hash of its ends."""
    st = os.stat(path)
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        digest.update(f.read(HEAD_BYTES))
        if st.st_size > HEAD_BYTES:
            f.seek(max(HEAD_BYTES, st.st_size - TAIL_BYTES))
            digest.update(f.read(TAIL_BYTES))
    return {'size': st.st_size, 'mtime_ns': st.st_mtime_ns, 'sha256_ends': digest.hexdigest()}


def library_identity():
    """Return llama-cpp-python's version and its shared libraries' identity."""
    # Imported here: llama_cpp is loaded only once the backend set OMP_WAIT_POLICY.
    from llm_planner.decoding.session import library_facts
    facts = library_facts()
    libs = {}
    folder = facts['folder']
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(folder, name)
        if '.so' in name or name.endswith(('.dylib', '.dll')):
            try:
                st = os.stat(path)  # follows links: the real file
            except OSError:
                continue
            libs[name] = [st.st_size, st.st_mtime_ns]
    return {'llama_cpp_python': facts['version'], 'libraries': libs,
            'system_info': facts['system_info'], 'gpu_offload': facts['gpu_offload'],
            'state_seq_version': facts['state_seq_version']}


def params_facts(params):
    """Return the fields of a ctypes parameter struct that change the state (numbers, bools)."""
    out = {}
    for name, _ in getattr(params, '_fields_', ()):
        if name in _IGNORED_FIELDS:
            continue
        value = getattr(params, name, None)
        if isinstance(value, (bool, int, float)):
            out[name] = value
    return out


def _text_hash(texts):
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode('utf-8')
        digest.update(struct.pack('<Q', len(data)))
        digest.update(data)
    return digest.hexdigest()


def _tokens_hash(token_lists):
    digest = hashlib.sha256()
    for tokens in token_lists:
        digest.update(struct.pack('<Q', len(tokens)))
        digest.update(struct.pack(f'<{len(tokens)}i', *tokens))
    return digest.hexdigest()


def state_facts(llm, model_path, prefix_text, prefix_tokens, segment_texts,
                segment_tokens, extra=None):
    """
    Return the facts (a JSON-able dict) that make up the key of a prompt's KV state.

    ``llm`` is the ``llama_cpp.Llama`` the state comes from; ``extra`` adds
    the caller's own facts (e.g. settings outside llama.cpp's parameters).
    """
    facts = {
        'format': FORMAT_VERSION,
        'model': file_identity(model_path),
        'library': library_identity(),
        'context': params_facts(llm.context_params),
        'model_params': params_facts(llm.model_params),
        'n_ctx': int(llm.n_ctx()),
        'prefix': {'text': _text_hash([prefix_text]), 'tokens': _tokens_hash([prefix_tokens]),
                   'n_tokens': len(prefix_tokens)},
        'segments': {'texts': _text_hash(segment_texts), 'tokens': _tokens_hash(segment_tokens),
                     'count': len(segment_tokens),
                     'n_tokens': sum(len(t) for t in segment_tokens)},
    }
    if extra:
        facts['extra'] = dict(extra)
    return facts


def key_of(facts):
    """Return (digest bytes, canonical JSON text) of ``facts``."""
    text = json.dumps(facts, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode('utf-8')).digest(), text


class KvStateCache:
    """A folder of KV state files, bounded in size, least recently used removed first."""

    def __init__(self, directory, max_bytes, log=None):
        """Keep files in ``directory`` (made on first write), at most ``max_bytes`` of them."""
        self.directory = os.fspath(directory)
        self.max_bytes = int(max_bytes)
        self.log = log if log is not None else _log.warning

    def path_for(self, digest):
        """Return the file path of the state with key ``digest``."""
        return os.path.join(self.directory, f'{FILE_PREFIX}{digest.hex()[:32]}{FILE_SUFFIX}')

    def _warn(self, path, why):
        self.log(f'KV state cache: ignoring {path}: {why}; evaluating the prompt again')

    def load(self, digest):
        """
        Return the state stored under ``digest`` (a writable memoryview), or None.

        None without a word when there is no file; None with one warning line
        when the file is unreadable, truncated, corrupt, of another format
        version or of another key. A hit refreshes the file's mtime (LRU).
        """
        path = self.path_for(digest)
        try:
            with open(path, 'rb') as f:
                size = os.fstat(f.fileno()).st_size
                if size < HEADER.size:
                    self._warn(path, f'truncated ({size} bytes, shorter than the header)')
                    return None
                # A private (copy-on-write) mapping, not a heap buffer: the
                # pages go back to the system when the state is restored and
                # the view dropped (a bytearray of the state's size left the
                # node ~20 MiB bigger after each lifecycle cycle).
                data = mmap.mmap(f.fileno(), size, access=mmap.ACCESS_COPY)
                view = memoryview(data)
                got = len(view)
        except FileNotFoundError:
            return None
        except OSError as e:
            self._warn(path, f'cannot read it ({e.strerror or e})')
            return None
        if got < size:
            self._warn(path, f'truncated while read ({got} of {size} bytes)')
            return None
        magic, version, json_len, key, payload_len, crc = HEADER.unpack_from(data)
        if magic != MAGIC:
            self._warn(path, 'not a llm_planner KV state file (bad magic)')
            return None
        if version != FORMAT_VERSION:
            self._warn(path, f'format version {version}, this llm_planner reads {FORMAT_VERSION}')
            return None
        if key != digest:
            self._warn(path, 'made for another model, llama.cpp build, settings or prompt '
                             '(key mismatch)')
            return None
        expected = HEADER.size + json_len + payload_len
        if size != expected:
            self._warn(path, f'truncated or padded ({size} bytes, the header says {expected})')
            return None
        if zlib.crc32(view[HEADER.size:]) != crc:
            self._warn(path, 'corrupt (checksum mismatch)')
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        return view[HEADER.size + json_len:]

    def save(self, digest, facts_json, payload):
        """
        Write ``payload`` (a buffer) under ``digest`` atomically; return the path or None.

        Makes room first (least recently used files go). A payload larger
        than the bound, or a folder that cannot be written, is not an error:
        one warning line, nothing written.
        """
        path = self.path_for(digest)
        meta = facts_json.encode('utf-8')
        total = HEADER.size + len(meta) + len(payload)
        if total > self.max_bytes:
            self.log(f'KV state cache: a state of {total / 2**20:.1f} MiB exceeds the bound of '
                     f'{self.max_bytes / 2**20:.1f} MiB (kv_cache_max_mb); not saved')
            return None
        crc = zlib.crc32(payload, zlib.crc32(meta))
        header = HEADER.pack(MAGIC, FORMAT_VERSION, len(meta), digest, len(payload), crc)
        tmp = None
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            self.evict(keep_free=total, skip=path)
            fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + '.',
                                       suffix='.tmp', dir=self.directory)
            with os.fdopen(fd, 'wb') as f:
                f.write(header)
                f.write(meta)
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
            tmp = None
        except OSError as e:
            self.log(f'KV state cache: cannot write {path}: {e.strerror or e}; not saved')
            return None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        return path

    def entries(self):
        """Return [(mtime, size, path)] of the state files in the folder, oldest first."""
        out = []
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            if name.startswith(FILE_PREFIX) and name.endswith(FILE_SUFFIX):
                path = os.path.join(self.directory, name)
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                out.append((st.st_mtime, st.st_size, path))
        out.sort()
        return out

    def evict(self, keep_free=0, skip=None):
        """
        Remove the oldest state files until they and ``keep_free`` bytes fit the bound.

        ``skip`` (the path about to be replaced) counts as gone. Temporary
        files of writers that died long ago are removed too. Returns the
        removed paths.
        """
        removed = []
        now = time.time()
        try:
            names = os.listdir(self.directory)
        except OSError:
            names = []
        for name in names:
            if name.startswith(FILE_PREFIX) and name.endswith('.tmp'):
                path = os.path.join(self.directory, name)
                try:
                    if now - os.stat(path).st_mtime > STALE_TMP_SECONDS:
                        os.unlink(path)
                except OSError:
                    pass
        entries = [e for e in self.entries() if e[2] != skip]
        total = sum(size for _, size, _ in entries) + keep_free
        for _, size, path in entries:
            if total <= self.max_bytes:
                break
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError:
                continue
            total -= size
            removed.append(path)
        return removed


def read_context_state(llama_session):
    """Return the context's whole state (KV of every sequence, logits) as a bytearray."""
    return llama_session.read_state()


def write_context_state(llama_session, payload):
    """
    Restore a context state read by :func:`read_context_state`; return whether it took.

    ``payload`` must be a writable buffer (ctypes borrows it, no copy). On
    failure the context's memory is cleared: nothing half-restored is left.
    """
    return llama_session.write_state(payload)


__all__ = ['KvStateCache', 'AUTO', 'FORMAT_VERSION', 'HEADER', 'MAGIC', 'file_identity',
           'key_of', 'library_identity', 'params_facts', 'read_context_state', 'resolve_cache_dir',
           'state_facts', 'user_cache_dir', 'write_context_state']
