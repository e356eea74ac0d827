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
The planner's settings: the planning keys of ``config/planner.yaml``.

The same file is the node's ROS parameters file and the CLI's ``--config``.
:data:`FIELDS` lists every key with its type, default and description in one
place, so that the node can declare its parameters from it::

    for f in FIELDS:
        node.declare_parameter(f.name, f.default, descriptor(f.description))
    config = PlannerConfig.from_dict(
        {f.name: node.get_parameter(f.name).value for f in FIELDS}, config_dir)

Relative ``*_file`` paths resolve against a config directory (the YAML file's
own directory, else the package's installed ``config`` directory, else
``config/`` next to the package source); a relative ``model_path`` resolves
against the current working directory.
"""

from dataclasses import asdict, dataclass, field, replace
import math
import os

from llm_planner.core.yaml_file import read_yaml, YamlFileError

MIN_N_CTX = 256
# Upper bounds: a value past them is refused when set, not at the next configure
# (where n_threads 100000 or n_ctx 2**40 would crash or exhaust memory).
MAX_N_CTX = 1 << 20
MAX_THREADS = 512
MAX_GPU_LAYERS = 10000
MAX_DECODE_BATCH = 512
MAX_EXAMPLES = 64
MAX_STEPS = 256
MAX_TASK_CHARS = 20000
MAX_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Field:
    """One planning setting: name, Python type, default value, description."""

    name: str
    type: type  # noqa: A003 (mirrors the ROS parameter type)
    default: object
    description: str


# The single list of planning settings; defaults equal config/planner.yaml.
FIELDS = (
    Field('backend', str, 'llama',
          'Inference backend: "llama" (in-process llama-cpp-python) or "http" '
          '(an OpenAI-compatible server)'),
    Field('model_path', str, 'models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf',
          'GGUF model file (backend llama); relative to the working directory'),
    Field('n_ctx', int, 7168, 'Context window, tokens, 256 to 1048576'),
    Field('n_threads', int, 0, 'CPU threads for inference, 0 (all cores) to 512'),
    Field('n_gpu_layers', int, 0, 'Layers offloaded to the GPU: 0 on a CPU, -1 = all'),
    Field('cpu_repack', bool, False,
          "Backend llama: llama.cpp's repacked weight layout for its AVX2/NEON CPU "
          'kernels; false = the plain layout (faster prompt evaluation on AVX-512 CPUs)'),
    Field('decode_batch', int, 64,
          'Backend llama: most tokens checked in one decoding step (the pending token '
          'plus a draft: forced text, guesses, prompt lookup); 1 = one token a step; '
          '0 = the largest size whose logits are bitwise those of one-token steps, '
          'measured at load'),
    Field('http_url', str, 'http://127.0.0.1:8080', 'Backend http: server base URL'),
    Field('http_model', str, '', 'Backend http: model name ("" = server default)'),
    Field('http_connect_timeout', float, 2.0, 'Backend http: connect timeout, seconds'),
    Field('http_read_timeout', float, 30.0, 'Backend http: read timeout, seconds'),
    Field('skills_file', str, 'skills.yaml',
          'Skill catalog; relative to the config directory'),
    Field('locations_file', str, 'locations.yaml',
          'Semantic map; relative to the config directory'),
    Field('examples_file', str, 'examples.yaml',
          'Few-shot example bank; relative to the config directory'),
    Field('num_examples', int, 6,
          'Few-shot examples put in the prompt, the ones most similar to the task'),
    Field('cache_examples', bool, True,
          'Backend llama: evaluate every bank example once at load and reuse its KV '
          'cache, instead of evaluating the chosen examples for each task'),
    Field('kv_cache_dir', str, 'auto',
          'Backend llama: folder of the files that keep the evaluated prompt prefix and '
          'cached examples across restarts ("auto" = $XDG_CACHE_HOME/llm_planner or '
          '~/.cache/llm_planner; "" = no files)'),
    Field('kv_cache_max_mb', int, 1024,
          'Backend llama: most MiB the KV state files may take in kv_cache_dir; the least '
          'recently used go first'),
    Field('max_steps', int, 16, 'Longest plan accepted, in steps'),
    Field('max_task_chars', int, 500, 'Longest task accepted, in characters, 1 to 20000'),
    Field('max_tokens', int, 256,
          'Most tokens the model may generate for one plan, 1 to n_ctx'),
    Field('planning_timeout', float, 20.0,
          'Deadline for planning one task, seconds (0-3600]'),
    Field('strict_places', bool, False,
          'true: place names limited to the map by the grammar; false: any name is '
          'admitted and an unknown one is refused with UNKNOWN_LOCATION'),
    Field('check_actions', bool, True,
          "true: the model first lists the task's actions as verbs (DO: go kitchen) and a "
          "task with an action no skill's verbs name is refused (UNSUPPORTED_TASK) before "
          'any program is decoded; false (or a catalog naming no verbs): no action line, '
          'the model refuses with ERROR itself'),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
_FIELDS_BY_NAME = {f.name: f for f in FIELDS}
_PATH_KEYS = ('skills_file', 'locations_file', 'examples_file')


def source_config_dir():
    """Return ``config/`` next to the package source (a source checkout)."""
    here = os.path.dirname(os.path.realpath(__file__))
    return os.path.join(os.path.dirname(here), 'config')


def default_config_dir():
    """
    Return the package's config directory.

    The installed share directory (``ament_index``) when it holds the config
    files, else ``config/`` next to the package source.
    """
    try:
        from ament_index_python.packages import get_package_share_directory
        share = os.path.join(get_package_share_directory('llm_planner'), 'config')
        if os.path.isfile(os.path.join(share, 'skills.yaml')):
            return share
    except Exception:  # noqa: B902 (not installed, no ament index: use the source tree)
        pass
    return source_config_dir()


def _coerce(f, value):
    """Return ``value`` converted to the type of field ``f``, or raise ValueError."""
    if f.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ('true', 'false'):
            return value.strip().lower() == 'true'
        raise ValueError(f'{f.name} must be true or false, got {value!r}')
    if f.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f'{f.name} must be an integer, got {value!r}')
        return value
    if f.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'{f.name} must be a number, got {value!r}')
        return float(value)
    if value is None:
        return ''
    if not isinstance(value, str):
        raise ValueError(f'{f.name} must be a string, got {value!r}')
    return value


# Each setting's default is written once, in FIELDS; the dataclass takes it from
# there (test_config.py checks that the two list the same settings).
_DEFAULTS = {f.name: f.default for f in FIELDS}


@dataclass(frozen=True)
class PlannerConfig:
    """The planner's settings (see :data:`FIELDS` for each key's meaning and default)."""

    backend: str = _DEFAULTS['backend']
    model_path: str = _DEFAULTS['model_path']
    n_ctx: int = _DEFAULTS['n_ctx']
    n_threads: int = _DEFAULTS['n_threads']
    n_gpu_layers: int = _DEFAULTS['n_gpu_layers']
    cpu_repack: bool = _DEFAULTS['cpu_repack']
    decode_batch: int = _DEFAULTS['decode_batch']
    http_url: str = _DEFAULTS['http_url']
    http_model: str = _DEFAULTS['http_model']
    http_connect_timeout: float = _DEFAULTS['http_connect_timeout']
    http_read_timeout: float = _DEFAULTS['http_read_timeout']
    skills_file: str = _DEFAULTS['skills_file']
    locations_file: str = _DEFAULTS['locations_file']
    examples_file: str = _DEFAULTS['examples_file']
    num_examples: int = _DEFAULTS['num_examples']
    cache_examples: bool = _DEFAULTS['cache_examples']
    kv_cache_dir: str = _DEFAULTS['kv_cache_dir']
    kv_cache_max_mb: int = _DEFAULTS['kv_cache_max_mb']
    max_steps: int = _DEFAULTS['max_steps']
    max_task_chars: int = _DEFAULTS['max_task_chars']
    max_tokens: int = _DEFAULTS['max_tokens']
    planning_timeout: float = _DEFAULTS['planning_timeout']
    strict_places: bool = _DEFAULTS['strict_places']
    check_actions: bool = _DEFAULTS['check_actions']
    # Directory relative *_file paths resolve against ('' = default_config_dir()).
    config_dir: str = field(default='', compare=False)

    @classmethod
    def from_dict(cls, data, config_dir=None):
        """
        Build a config from a mapping of settings (unknown keys are ignored).

        Values are checked and converted to the field types (an int where a
        float is expected is fine); raise ValueError on a wrong type or value.
        """
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f'expected a mapping of settings, got {type(data).__name__}')
        values = {}
        for name, value in data.items():
            f = _FIELDS_BY_NAME.get(name)
            if f is not None:
                values[name] = _coerce(f, value)
        config = cls(config_dir=os.path.abspath(config_dir) if config_dir else '', **values)
        config.validate()
        return config

    @classmethod
    def from_yaml(cls, path):
        """
        Read the ``ros__parameters`` of the first node entry of a ROS parameters file.

        Relative ``*_file`` paths then resolve against the file's directory.
        Raise ValueError when the file cannot be read or is not such a file.
        """
        try:
            doc = read_yaml(path)
        except YamlFileError as e:
            raise ValueError(f'cannot read planner config {path}: {e.cause}') from e.cause
        params = None
        if isinstance(doc, dict):
            for entry in doc.values():
                if isinstance(entry, dict) and 'ros__parameters' in entry:
                    params = entry['ros__parameters']
                    break
        if not isinstance(params, dict):
            raise ValueError(
                f'{path}: expected a ROS parameters file: node_name: {{ros__parameters: {{...}}}}')
        try:
            return cls.from_dict(params, os.path.dirname(os.path.abspath(path)))
        except ValueError as e:
            raise ValueError(f'{path}: {e}') from e

    def validate(self):
        """Raise ValueError with a clear message when a setting is out of range."""
        for f in FIELDS:
            _coerce(f, getattr(self, f.name))
        from llm_planner.backends import registry  # the backends by name
        if self.backend not in registry.names():
            raise ValueError(f'backend must be one of {", ".join(registry.names())}, '
                             f'got {self.backend!r}')
        if self.backend == 'llama' and not self.model_path.strip():
            raise ValueError('model_path is empty (backend llama needs a GGUF file)')
        if self.backend == 'http' and not self.http_url.strip():
            raise ValueError('http_url is empty (backend http needs a server URL)')
        if not MIN_N_CTX <= self.n_ctx <= MAX_N_CTX:
            raise ValueError(f'n_ctx must be from {MIN_N_CTX} to {MAX_N_CTX}, got {self.n_ctx}')
        if not 0 <= self.decode_batch <= MAX_DECODE_BATCH:
            raise ValueError(f'decode_batch must be from 0 (0 = measured) to '
                             f'{MAX_DECODE_BATCH}, got {self.decode_batch}')
        if not 0 <= self.n_threads <= MAX_THREADS:
            raise ValueError(f'n_threads must be from 0 (0 = all cores) to {MAX_THREADS}, '
                             f'got {self.n_threads}')
        if not -1 <= self.n_gpu_layers <= MAX_GPU_LAYERS:
            raise ValueError(f'n_gpu_layers must be from -1 (-1 = all) to {MAX_GPU_LAYERS}, '
                             f'got {self.n_gpu_layers}')
        for name in ('http_connect_timeout', 'http_read_timeout', 'planning_timeout'):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT):
                raise ValueError(f'{name} must be in (0, {MAX_TIMEOUT:g}] seconds, '
                                 f'got {value}')
        if not 0 <= self.num_examples <= MAX_EXAMPLES:
            raise ValueError(f'num_examples must be from 0 to {MAX_EXAMPLES}, '
                             f'got {self.num_examples}')
        for name, high in (('max_steps', MAX_STEPS), ('max_task_chars', MAX_TASK_CHARS),
                           ('max_tokens', self.n_ctx)):
            if not 1 <= getattr(self, name) <= high:
                raise ValueError(f'{name} must be from 1 to {high}'
                                 + (' (n_ctx)' if name == 'max_tokens' else '')
                                 + f', got {getattr(self, name)}')
        if self.kv_cache_max_mb < 1:
            raise ValueError(f'kv_cache_max_mb must be at least 1 (kv_cache_dir "" turns the '
                             f'files off), got {self.kv_cache_max_mb}')
        if '\0' in self.kv_cache_dir:
            raise ValueError('kv_cache_dir holds a NUL character')
        for name in _PATH_KEYS:
            if not getattr(self, name).strip():
                raise ValueError(f'{name} is empty')
        if self.backend == 'http':
            scheme = self.http_url.strip().split('://', 1)[0].lower()
            if scheme not in ('http', 'https') or '://' not in self.http_url:
                raise ValueError(f'http_url must be an http:// or https:// URL, '
                                 f'got {self.http_url!r}')
        return self

    def replace(self, **changes):
        """Return a copy with some settings changed (checked)."""
        return replace(self, **changes).validate()

    def to_dict(self):
        """Return the settings as a plain mapping (the keys of :data:`FIELDS`)."""
        data = asdict(self)
        return {name: data[name] for name in FIELD_NAMES}

    @property
    def resolved_config_dir(self):
        """Return the directory relative ``*_file`` paths resolve against."""
        return self.config_dir or default_config_dir()

    def _config_path(self, value):
        path = os.path.expanduser(value)
        return path if os.path.isabs(path) else os.path.join(self.resolved_config_dir, path)

    @property
    def skills_path(self):
        """Absolute path of the skill catalog."""
        return self._config_path(self.skills_file)

    @property
    def locations_path(self):
        """Absolute path of the semantic map."""
        return self._config_path(self.locations_file)

    @property
    def examples_path(self):
        """Absolute path of the few-shot example bank."""
        return self._config_path(self.examples_file)

    @property
    def kv_cache_path(self):
        """Absolute folder of the KV state files, or None when they are off."""
        from llm_planner.decoding.kv_state_cache import resolve_cache_dir
        return resolve_cache_dir(self.kv_cache_dir)

    @property
    def model_file(self):
        """Absolute path of the GGUF model (relative to the working directory)."""
        return os.path.abspath(os.path.expanduser(self.model_path))


__all__ = ['PlannerConfig', 'FIELDS', 'FIELD_NAMES', 'Field',
           'default_config_dir', 'source_config_dir']
