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

Like :mod:`llm_planner.testing.tiny_model` (llama architecture, 2 layers, 64 wide,
f32, random weights) but its SentencePiece-style vocabulary has, besides
``<unk>``, ``<s>``, ``</s>`` and the 256 byte tokens, a few hundred
multi-character pieces taken from the plan language and from task words
(``GET_``, ``LOCATION``, ``("``, ``")``, ``)\\n``, ``\\n``, `` = ``,
``kitchen``...), each with every prefix so that SentencePiece merging can
build it. Decoding under a grammar with it crosses token boundaries in the
middle of forced text, which is what exercises the verify and rollback paths
of :mod:`llm_planner.decoding.fast_decode`. Spaces are stored as U+2581 as in real
SentencePiece vocabularies; no space is prefixed to the text.

Command line: ``python -m llm_planner.testing.tiny_model_bpe OUT.gguf [--seed N]``.
"""

import sys

from llm_planner.testing.tiny_model import tiny_vocab, write_from_command_line, write_tiny_gguf

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

    tokens, scores, types = tiny_vocab()
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
    scores = scores + [float(len(t)) for t in extra]
    return tokens, scores, types


def write_tiny_bpe_gguf(path, seed=0, pieces=PIECES):
    """
    Write a tiny random-weight llama GGUF with a multi-character vocab; return ``path``.

    ``seed`` selects the random weights (the same seed gives the same file).
    The model is :func:`llm_planner.testing.tiny_model.write_tiny_gguf`'s with this
    vocabulary, and no space prefix added before the text.
    """
    return write_tiny_gguf(
        path, seed=seed, vocab=bpe_vocab(pieces), add_space_prefix=False,
        model_name=f'llm_planner tiny random llama, multi-char vocab (seed {seed})')


def main(argv=None):
    """Write a tiny multi-character-vocab GGUF to the path given on the command line."""
    return write_from_command_line(
        write_tiny_bpe_gguf,
        'Write a tiny random-weight llama GGUF with a multi-character vocab.', argv)


if __name__ == '__main__':
    sys.exit(main())
