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
Inference backends behind one small interface (see ``base.Backend``).

``LlamaBackend`` runs a GGUF model in this process with llama-cpp-python;
``HttpBackend`` talks to an OpenAI-compatible server. Importing this package
does not import llama-cpp-python; ``LlamaBackend.load()`` does.
"""

from llm_planner.backends import http_backend, llama_backend
from llm_planner.backends.base import Backend, check_gguf_file, Completion
from llm_planner.backends.http_backend import HttpBackend
from llm_planner.backends.llama_backend import LlamaBackend
from llm_planner.backends.registry import register

# The built-in backends (see registry.py): one line each.
register('llama', llama_backend.from_config, describe=lambda config: config.model_file)
register('http', http_backend.from_config, describe=lambda config: config.http_url)

__all__ = ['Backend', 'Completion', 'HttpBackend', 'LlamaBackend', 'check_gguf_file']
