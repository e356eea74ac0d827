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
A tiny random-weight llama GGUF, for tests and smoke runs.

The model has the llama architecture (2 layers, 64-wide, 4 heads, f32) and a
byte-fallback SentencePiece-style vocabulary: ``<unk>``, ``<s>``, ``</s>`` and
the 256 byte tokens ``<0x00>`` .. ``<0xFF>``, so any text can be tokenized and
any byte string generated. It writes in a few milliseconds, is about 450 KB,
loads in llama.cpp in milliseconds and produces random (but, under a grammar,
well-formed) text. It has no chat template unless one is asked for.

Command line: ``python -m llm_planner.testing.tiny_model OUT.gguf [--seed N]``.
"""

import argparse
import os
import sys

N_LAYER = 2
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_CTX = 2048
RMS_EPS = 1e-5
ROPE_FREQ_BASE = 10000.0
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2


def tiny_vocab():
    """Return (tokens, scores, token_types) of the byte-fallback vocabulary."""
    from gguf import TokenType

    tokens = ['<unk>', '<s>', '</s>'] + [f'<0x{b:02X}>' for b in range(256)]
    scores = [0.0] * len(tokens)
    types = ([int(TokenType.UNKNOWN), int(TokenType.CONTROL), int(TokenType.CONTROL)]
             + [int(TokenType.BYTE)] * 256)
    return tokens, scores, types


def write_tiny_gguf(path, seed=0, chat_template=None, vocab=None, model_name=None,
                    add_space_prefix=None):
    """
    Write a tiny random-weight llama GGUF to ``path`` and return ``path``.

    ``seed`` selects the random weights (the same seed gives the same file).
    ``chat_template`` (a Jinja2 string) is stored as ``tokenizer.chat_template``
    when given; by default the model has none. ``vocab`` (tokens, scores,
    token types) replaces the byte vocabulary, ``model_name`` the model name,
    ``add_space_prefix`` sets the tokenizer's flag when not None. The file is
    written to a temporary name and renamed into place.
    """
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens, scores, types = vocab or tiny_vocab()
    n_vocab = len(tokens)
    head_dim = N_EMBD // N_HEAD
    n_embd_kv = head_dim * N_HEAD_KV

    def weight(*shape, scale=None):
        # numpy shape is (rows, cols) = ggml ne reversed: (n_out, n_in)
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
            (name(t.ATTN_K, bid), weight(n_embd_kv, N_EMBD)),
            (name(t.ATTN_V, bid), weight(n_embd_kv, N_EMBD)),
            (name(t.ATTN_OUT, bid), weight(N_EMBD, N_EMBD)),
            (name(t.FFN_NORM, bid), norm()),
            (name(t.FFN_GATE, bid), weight(N_FF, N_EMBD)),
            (name(t.FFN_UP, bid), weight(N_FF, N_EMBD)),
            (name(t.FFN_DOWN, bid), weight(N_EMBD, N_FF)),
        ]

    path = os.fspath(path)
    tmp = f'{path}.tmp{os.getpid()}'
    arch = gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA]
    writer = gguf.GGUFWriter(tmp, arch)
    try:
        _write(writer, model_name or f'llm_planner tiny random llama (seed {seed})',
               tokens, scores, types, tensors, chat_template, add_space_prefix)
    except BaseException:
        writer.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    writer.close()
    os.replace(tmp, path)
    return path


def _write(writer, name, tokens, scores, types, tensors, chat_template, add_space_prefix):
    """Add the metadata and tensors to ``writer`` and write the file."""
    import gguf

    writer.add_name(name)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(ROPE_FREQ_BASE)
    writer.add_layer_norm_rms_eps(RMS_EPS)
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
    if add_space_prefix is not None:
        writer.add_add_space_prefix(add_space_prefix)
    if chat_template:
        writer.add_chat_template(chat_template)
    for tensor_name, data in tensors:
        writer.add_tensor(tensor_name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()


def write_from_command_line(write, description, argv=None):
    """Run ``write(path, seed=...)`` on the command line's output path and seed; return 0."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('output', help='path of the .gguf file to write')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the weights')
    args = parser.parse_args(argv)
    path = write(args.output, seed=args.seed)
    print(f'{path}: {os.path.getsize(path)} bytes')
    return 0


def main(argv=None):
    """Write a tiny GGUF to the path given on the command line."""
    return write_from_command_line(write_tiny_gguf, 'Write a tiny random-weight llama GGUF.',
                                   argv)


if __name__ == '__main__':
    sys.exit(main())
