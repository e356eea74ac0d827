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
Grammar-constrained decoding speed: llama-cpp-python, plain greedy, fast decoder.

For planning prompts (PromptBuilder's when it is available, else a short
ChatML prompt listing the skills) and the plan grammar, times

* (a) ``Llama.create_completion(grammar=LlamaGrammar, temperature=0)``,
* (b) :func:`llm_planner.decoding.greedy.plain_greedy_decode`,
* (c) :class:`llm_planner.decoding.fast_decode.FastGrammarDecoder`,

each from the same KV cache state (the whole prompt cached, so only the
decoding is timed; the prompt's own evaluation is timed once, apart), and
checks that (a) and (c) give exactly (b)'s output. Figures, not pass/fail.

    python benchmarks/bench_decode.py            # demo model, 2 threads
    python benchmarks/bench_decode.py --model tiny --repeats 3
"""

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import llama_cpp  # noqa: E402
from llm_planner.core.catalog import SkillCatalog  # noqa: E402
from llm_planner.core.semantic_map import SemanticMap  # noqa: E402
from llm_planner.decoding.fast_decode import FastGrammarDecoder  # noqa: E402
from llm_planner.decoding.greedy import plain_greedy_decode  # noqa: E402
from llm_planner.planning.grammar import build_gbnf  # noqa: E402

DEMO_MODEL = ROOT / 'models' / 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf'
TASKS = [
    'Go to the kitchen and grab a banana',
    'Bring me the cup from the office',
    'Go to the bedroom',
    'Find my keys',
    'Search for an apple in the living room and grab it',
    'Go to the garage',
    'Sing a song',
    'Va dans la cuisine et prends une pomme',
    'Go to the kitchen, then to the office, then come back here',
    'Take the bottle from the bathroom to the study',
]


def chatml_prompt(catalog, semantic_map, task):
    """Return a short ChatML planning prompt (used when prompt.py is not available)."""
    skills = '\n'.join(
        f'- {s.name}({", ".join(a.name + ": " + a.type for a in s.args)})'
        + (f' -> {s.returns}' if s.returns else '') + f': {s.description}'
        for s in catalog)
    places = ', '.join(p.name for p in semantic_map.places)
    system = ('You turn a robot task into a program, one skill call per line, '
              '`$name = ` stores a result. Answer ERROR if the skills cannot do it.\n'
              f'Skills:\n{skills}\nKnown places: {places}\n'
              'Example:\n$kitchen = GET_LOCATION(location_name:"kitchen")\nGO(to:$kitchen)')
    return (f'<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{task}<|im_end|>\n'
            '<|im_start|>assistant\n')


def make_prompts(catalog, semantic_map, tasks):
    """Return (prompt texts, where they came from)."""
    try:
        from llm_planner.planning.prompt import load_examples, PromptBuilder
        builder = PromptBuilder(catalog, semantic_map,
                                load_examples(str(ROOT / 'config' / 'examples.yaml')))
        return [builder.build(t) for t in tasks], 'llm_planner.planning.prompt.PromptBuilder'
    except ImportError:
        return [chatml_prompt(catalog, semantic_map, t) for t in tasks], 'plain ChatML'


def cache_prompt(llama, tokens):
    """Leave exactly ``tokens`` in the KV cache (reusing the common prefix); return seconds."""
    start = time.monotonic()
    mem = llama_cpp.llama_get_memory(llama.ctx)
    cached = list(llama.input_ids[:llama.n_tokens])
    keep = 0
    while keep < min(len(cached), len(tokens)) and cached[keep] == tokens[keep]:
        keep += 1
    llama_cpp.llama_memory_seq_rm(mem, 0, keep, -1)
    llama.n_tokens = keep
    if keep < len(tokens):
        llama.eval(tokens[keep:])
    llama._requires_eval = True
    return time.monotonic() - start, len(tokens) - keep


def run_llama_cpp(llama, prompt, grammar, max_tokens):
    start = time.monotonic()
    out = llama.create_completion(prompt, max_tokens=max_tokens, temperature=0.0,
                                  repeat_penalty=1.0, grammar=grammar)
    return time.monotonic() - start, out['choices'][0]['text'], out['usage']['completion_tokens']


def main(argv=None):
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', default=str(DEMO_MODEL),
                        help='GGUF path, or "tiny" for a tiny random model')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--max-tokens', type=int, default=128)
    parser.add_argument('--repeats', type=int, default=1,
                        help='runs per method and prompt (the median is kept)')
    parser.add_argument('--tasks', type=int, default=len(TASKS))
    parser.add_argument('--strict-places', action='store_true')
    parser.add_argument('--no-flash-attn', action='store_true',
                        help='Llama(flash_attn=False): no batch is exact, jump-forward goes off')
    parser.add_argument('--max-batch', type=int, default=None,
                        help='FastGrammarDecoder(max_batch=N) instead of the measured exact size '
                             '(larger than measured: faster, output no longer guaranteed)')
    args = parser.parse_args(argv)

    catalog = SkillCatalog.load(str(ROOT / 'config' / 'skills.yaml'))
    semantic_map = SemanticMap.load(str(ROOT / 'config' / 'locations.yaml'))
    gbnf = build_gbnf(catalog, semantic_map, strict_places=args.strict_places)
    model = args.model
    if model == 'tiny':
        from llm_planner.testing.tiny_model_bpe import write_tiny_bpe_gguf
        model = write_tiny_bpe_gguf(os.path.join(tempfile.mkdtemp(), 'tiny.gguf'))
    if not os.path.exists(model):
        print(f'no model at {model} (make model)', file=sys.stderr)
        return 1
    tasks = TASKS[:args.tasks]
    prompts, source = make_prompts(catalog, semantic_map, tasks)

    t0 = time.monotonic()
    llama = llama_cpp.Llama(model, n_ctx=4096, n_batch=512, n_threads=args.threads,
                            n_threads_batch=args.threads, flash_attn=not args.no_flash_attn,
                            verbose=False)
    load_s = time.monotonic() - t0
    t0 = time.monotonic()
    decoder = FastGrammarDecoder(llama, gbnf, max_batch=args.max_batch)
    init_s = time.monotonic() - t0
    grammar = llama_cpp.LlamaGrammar.from_string(gbnf, verbose=False)
    print(f'model {os.path.basename(model)}  n_vocab {llama.n_vocab()}  threads {args.threads}'
          f'  flash_attn {not args.no_flash_attn}  load {load_s:.1f}s')
    print(f'FastGrammarDecoder: init {init_s:.2f}s, max_batch {decoder.max_batch} '
          f'({"given" if args.max_batch else "measured exact"}), '
          f'jump_forward {decoder.jump_forward}')
    print(f'prompts: {source}; strict_places={args.strict_places}; '
          f'max_tokens={args.max_tokens}; repeats={args.repeats}; '
          f'load average {os.getloadavg()[0]:.2f}')
    print()
    header = (f'{"task":<34} {"prompt":>12} {"tok":>4} {"(a) llama":>9} {"(b) plain":>9} '
              f'{"(c) fast":>9} {"x b/c":>5} {"samp":>4} {"forc":>4} {"drft":>4} '
              f'{"rb":>3} {"mask":>4} {"same":>6}')
    print(header)
    print('-' * len(header))
    rows = []
    for task, prompt in zip(tasks, prompts):
        tokens = llama.tokenize(prompt.encode(), add_bos=True, special=True)
        prompt_s, prompt_n = cache_prompt(llama, tokens)
        times = {'a': [], 'b': [], 'c': []}
        for _ in range(args.repeats):
            cache_prompt(llama, tokens)
            sa, text_a, n_a = run_llama_cpp(llama, prompt, grammar, args.max_tokens)
            times['a'].append(sa)
            cache_prompt(llama, tokens)
            plain = plain_greedy_decode(llama, gbnf, tokens, args.max_tokens)
            times['b'].append(plain.seconds)
            cache_prompt(llama, tokens)
            fast = decoder.decode(tokens, args.max_tokens)
            times['c'].append(fast.seconds)
        expected_text = llama.detokenize(plain.tokens).decode('utf-8', errors='ignore')
        same_c = fast.tokens == plain.tokens
        same_a = text_a == expected_text and n_a == len(plain.tokens)
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((task, prompt_s, prompt_n, med, plain, fast, same_a, same_c))
        same = ('a' if same_a else '-') + ('c' if same_c else '-')
        print(f'{task[:34]:<34} {prompt_s:6.2f}s/{prompt_n:4d} {len(plain.tokens):4d} '
              f'{med["a"]:8.2f}s {med["b"]:8.2f}s {med["c"]:8.2f}s '
              f'{med["b"] / med["c"]:5.2f} {fast.n_sampled:4d} {fast.n_forced:4d} '
              f'{fast.n_drafted:4d} {fast.n_rollbacks:3d} {fast.n_full_masks:4d} {same:>6}')
        if not (same_a and same_c):
            print(f'    plain: {plain.text!r}\n    fast:  {fast.text!r}\n    llama: {text_a!r}')
    print()
    n_tok = sum(len(r[4].tokens) for r in rows)
    for key, label in (('a', '(a) Llama.create_completion + LlamaGrammar'),
                       ('b', '(b) plain_greedy_decode'),
                       ('c', '(c) FastGrammarDecoder')):
        per_task = [r[3][key] for r in rows]
        total = sum(per_task)
        print(f'{label:<44} median {statistics.median(per_task):6.2f}s  '
              f'total {total:7.2f}s  {n_tok / total:5.1f} tok/s')
    fast_rows = [r[5] for r in rows]
    print(f'fast decoder: {n_tok} tokens = {sum(f.n_sampled for f in fast_rows)} sampled + '
          f'{sum(f.n_forced for f in fast_rows)} forced; '
          f'{sum(f.n_drafted for f in fast_rows)} drafted, '
          f'{sum(f.n_rollbacks for f in fast_rows)} rollbacks, '
          f'{sum(f.n_batches for f in fast_rows)} batches, '
          f'{sum(f.n_full_masks for f in fast_rows)} full-vocab masks '
          f'(plain: {sum(r[4].n_full_masks for r in rows)})')
    print(f'identical to (b): (a) {sum(r[6] for r in rows)}/{len(rows)}, '
          f'(c) {sum(r[7] for r in rows)}/{len(rows)}')
    print(f'prompt evaluation (per-task part after the cached prefix): median '
          f'{statistics.median(r[1] for r in rows):.2f}s for a median '
          f'{statistics.median(r[2] for r in rows):.0f} tokens')
    print(f'load average at the end {os.getloadavg()[0]:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
