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
r"""
A tiny random-weight llama GGUF with a multi-character vocabulary.

Like :mod:`llm_planner.tiny_model` (llama architecture, 2 layers, 64 wide,
f32, random weights) but its SentencePiece-style vocabulary has, besides
``<unk>``, ``<s>``, ``</s>`` and the 256 byte tokens, a few hundred
multi-character pieces taken from the plan language and from task words
(``GET_``, ``LOCATION``, ``("``, ``")``, ``)\\n``, ``\\n``, `` = ``,
``kitchen``...), each with every prefix so that SentencePiece merging can
build it. Decoding under a grammar with it crosses token boundaries in the
middle of forced text, which is what exercises the verify and rollback paths
of :mod:`llm_planner.fast_decode`. Spaces are stored as U+2581 as in real
SentencePiece vocabularies; no space is prefixed to the text.

Command line: ``python -m llm_planner.tiny_model_bpe OUT.gguf [--seed N]``.
"""

import argparse
import os
import sys

N_LAYER = 2
N_EMBD = 64
N_HEAD = 4
N_FF = 128
N_CTX = 2048
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
SPACE = '\u2581'

# Pieces of the plan language and of tasks; every prefix becomes a token too.
PIECES = (
    'GET_', 'GET_LOCATION', 'GET_CURRENT_LOCATION', 'LOCATION', 'CURRENT', '_LOCATION',
    'SEARCH', 'SEARCH(', 'GRAB', 'GRAB(', 'GO', 'GO(', 'ERROR', 'ERROR\n',
    '(', ')', '()', '("', '")', '")\n', ')\n', ':"', ':$', '$', ' = ', ' =', '= ',
    '\n', '\n$', '\nGO', 'location_name', 'location_name:"', 'object_name', 'object_name:"',
    'where', 'where:$', 'to', 'to:$', 'name', 'kitchen', 'kitchen")', 'banana', 'apple',
    'cup', 'bedroom', 'bathroom', 'office', 'living_room', 'entrance', 'lounge', 'study',
    'the ', 'and ', 'go ', 'grab ', 'bring ', 'find ', 'to the ', 'Go to the ', 'Task: ',
    'Plan:\n', 'robot', 'loc', 'pos', 'obj', 'here', 'there', 'me', 'it', 'a ', 'an ',
)


def bpe_vocab(pieces=PIECES):
    """Return (tokens, scores, token_types) of the multi-character vocabulary."""
    from gguf import TokenType

    tokens = ['<unk>', '<s>', '</s>'] + [f'<0x{b:02X}>' for b in range(256)]
    types = ([int(TokenType.UNKNOWN), int(TokenType.CONTROL), int(TokenType.CONTROL)]
             + [int(TokenType.BYTE)] * 256)
    seen = set()
    extra = []
    for piece in pieces:
        for end in range(2, len(piece) + 1):
            text = piece[:end].replace(' ', SPACE)
            if text not in seen:
                seen.add(text)
                extra.append(text)
    # A few single characters as normal tokens too, so that some text has two
    # spellings (the byte token and the character token).
    for ch in '()$:"\n_=':
        if ch not in seen:
            seen.add(ch)
            extra.append(ch)
    tokens += extra
    types += [int(TokenType.NORMAL)] * len(extra)
    # SentencePiece merges the adjacent pair with the highest score first:
    # longer pieces score higher, so the canonical tokenization is greedy-long.
    scores = [0.0] * (3 + 256) + [float(len(t)) for t in extra]
    return tokens, scores, types


def write_tiny_bpe_gguf(path, seed=0, pieces=PIECES):
    """
    Write a tiny random-weight llama GGUF with a multi-character vocab; return ``path``.

    ``seed`` selects the random weights (the same seed gives the same file).
    """
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens, scores, types = bpe_vocab(pieces)
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD

    def weight(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def norm():
        return np.ones(N_EMBD, dtype=np.float32)

    def name(tensor, bid=None):
        base = gguf.TENSOR_NAMES[tensor]
        return (base.format(bid=bid) if bid is not None else base) + '.weight'

    t = gguf.MODEL_TENSOR
    tensors = [
        (name(t.TOKEN_EMBD), weight(n_vocab, N_EMBD, scale=1.0)),
        (name(t.OUTPUT_NORM), norm()),
        (name(t.OUTPUT), weight(n_vocab, N_EMBD)),
    ]
    for bid in range(N_LAYER):
        tensors += [
            (name(t.ATTN_NORM, bid), norm()),
            (name(t.ATTN_Q, bid), weight(N_EMBD, N_EMBD)),
            (name(t.ATTN_K, bid), weight(N_EMBD, N_EMBD)),
            (name(t.ATTN_V, bid), weight(N_EMBD, N_EMBD)),
            (name(t.ATTN_OUT, bid), weight(N_EMBD, N_EMBD)),
            (name(t.FFN_NORM, bid), norm()),
            (name(t.FFN_GATE, bid), weight(N_FF, N_EMBD)),
            (name(t.FFN_UP, bid), weight(N_FF, N_EMBD)),
            (name(t.FFN_DOWN, bid), weight(N_EMBD, N_FF)),
        ]

    path = os.fspath(path)
    tmp = f'{path}.tmp{os.getpid()}'
    writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    try:
        writer.add_name(f'llm_planner tiny random llama, multi-char vocab (seed {seed})')
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_vocab_size(n_vocab)
        writer.add_context_length(N_CTX)
        writer.add_embedding_length(N_EMBD)
        writer.add_block_count(N_LAYER)
        writer.add_feed_forward_length(N_FF)
        writer.add_head_count(N_HEAD)
        writer.add_head_count_kv(N_HEAD)
        writer.add_rope_dimension_count(head_dim)
        writer.add_rope_freq_base(10000.0)
        writer.add_layer_norm_rms_eps(1e-5)
        writer.add_tokenizer_model('llama')
        writer.add_tokenizer_pre('default')
        writer.add_token_list(tokens)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_unk_token_id(UNK_ID)
        writer.add_bos_token_id(BOS_ID)
        writer.add_eos_token_id(EOS_ID)
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_add_space_prefix(False)
        for tensor_name, data in tensors:
            writer.add_tensor(tensor_name, data)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, path)
    return path


def main(argv=None):
    """Write a tiny multi-character-vocab GGUF to the path given on the command line."""
    parser = argparse.ArgumentParser(
        description='Write a tiny random-weight llama GGUF with a multi-character vocab.')
    parser.add_argument('output', help='path of the .gguf file to write')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the weights')
    args = parser.parse_args(argv)
    path = write_tiny_bpe_gguf(args.output, seed=args.seed)
    print(f'{path}: {os.path.getsize(path)} bytes')
    return 0


if __name__ == '__main__':
    sys.exit(main())
