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
The tests' tiny random-weight GGUF models, each written once per run.

``TinyModels(folder).path(seed, vocab='bytes', chat=False)`` returns the
path of a model written by :func:`llm_planner.testing.tiny_model.write_tiny_gguf`
(``vocab='bytes'``: one token per byte) or
:func:`llm_planner.testing.tiny_model_bpe.write_tiny_bpe_gguf` (``'bpe'``: a
multi-character vocabulary), with a ChatML chat template when ``chat``. The
same arguments give the same file: every module asking for a model shares it.
"""

import os
import threading

CHATML_TEMPLATE = (
    '{% for message in messages %}'
    '{{ "<|im_start|>" + message["role"] + "\\n" + message["content"] + "<|im_end|>\\n" }}'
    '{% endfor %}'
    '{% if add_generation_prompt %}{{ "<|im_start|>assistant\\n" }}{% endif %}'
)


class TinyModels:
    """Tiny GGUF files in one folder, written on first use."""

    def __init__(self, folder):
        self.folder = str(folder)
        self._lock = threading.Lock()

    def path(self, seed=0, vocab='bytes', chat=False):
        """Return the path of the tiny model of ``seed`` and ``vocab`` (written once)."""
        if vocab not in ('bytes', 'bpe'):
            raise ValueError(f'vocab is bytes or bpe, not {vocab!r}')
        if chat and vocab != 'bytes':
            raise ValueError('only the byte-vocabulary model takes a chat template')
        name = f'tiny-{vocab}-seed{seed}{"-chat" if chat else ""}.gguf'
        path = os.path.join(self.folder, name)
        with self._lock:
            if not os.path.exists(path):
                if vocab == 'bpe':
                    from llm_planner.testing.tiny_model_bpe import write_tiny_bpe_gguf
                    write_tiny_bpe_gguf(path, seed=seed)
                else:
                    from llm_planner.testing.tiny_model import write_tiny_gguf
                    write_tiny_gguf(path, seed=seed,
                                    chat_template=CHATML_TEMPLATE if chat else None)
        return path
