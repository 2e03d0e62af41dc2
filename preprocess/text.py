"""`tokenize`: text to fixed-length integer ids."""

from __future__ import annotations

import collections
import re
from typing import Any, Iterable, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_text
from modalbridge.preprocess.base import Preprocessor

PAD, UNKNOWN = 0, 1
_SEPARATORS = {True: '[^a-z0-9]+', False: '[^A-Za-z0-9]+'}
MODES = ('words', 'characters')


def split(text: str, mode: str = 'words', lowercase: bool = True) -> list[str]:
    """The tokens of one text: lowercased (optionally), then words (runs of
    ASCII letters and digits; everything else separates) or characters."""
    if lowercase:
        text = text.lower()
    if mode == 'characters':
        return list(text)
    return re.sub(_SEPARATORS[lowercase], ' ', text).split()


def vocabulary_of(corpus: Iterable[str], mode: str = 'words', lowercase: bool = True) -> list[str]:
    """Every token of a corpus, most frequent first (ties alphabetically)."""
    counts = collections.Counter(token for text in corpus for token in split(text, mode, lowercase))
    return sorted(counts, key=lambda token: (-counts[token], token))


class Tokenize(Preprocessor):
    """Text (a scalar `StringArray`) to ``length`` int32 token ids.

    Tokens are words (runs of letters and digits, lowercased when
    ``lowercase``) or characters (``mode='characters'``). Ids: 0 pads,
    1 is an unknown token, and ``vocabulary[i]`` is ``i + 2``; the ids are
    cut or padded (at the end) to ``length``. Give the vocabulary, or a
    ``corpus`` to build it from (most frequent first). Output spec:
    int32 `BoundedArray` (length,) in [0, len(vocabulary) + 1], so
    ``num_values = len(vocabulary) + 2``. The TF backend uses
    ``tf.strings`` and a static hash table (no Python loops).
    """

    type = 'tokenize'

    def __init__(self, spec: Spec, length: int = 20, vocabulary: Sequence[str] | None = None,
                 corpus: Sequence[str] | None = None, mode: str = 'words', lowercase: bool = True):
        if not is_text(spec) or spec.shape != ():
            raise ConfigError(f'expects text (a scalar StringArray); got {describe(spec)}')
        if not isinstance(length, (int, np.integer)) or length < 1:
            raise ConfigError(f'length must be a positive int; received {length!r}')
        if mode not in MODES:
            raise ConfigError(f'mode must be one of {list(MODES)}; received {mode!r}')
        if (vocabulary is None) == (corpus is None):
            raise ConfigError('give exactly one of vocabulary=[...] or corpus=[...]')
        if corpus is not None:
            if isinstance(corpus, str):
                raise ConfigError('corpus must be a list of texts, not one string')
            vocabulary = vocabulary_of(corpus, mode, lowercase)
        vocabulary = list(vocabulary)
        if not vocabulary or not all(isinstance(token, str) for token in vocabulary):
            raise ConfigError(f'vocabulary must be a non-empty list of strings; received {vocabulary!r}')
        duplicates = sorted(token for token, n in collections.Counter(vocabulary).items() if n > 1)
        if duplicates:
            raise ConfigError(f'vocabulary has duplicates: {duplicates}')
        unreachable = [token for token in vocabulary if split(token, mode, lowercase) != [token]]
        if unreachable:
            raise ConfigError(f'vocabulary entries {unreachable[:5]} can never match: tokens are '
                              f'{"lowercased " if lowercase else ""}{mode} '
                              f'({"single characters" if mode == "characters" else "runs of letters and digits"})')
        super().__init__(spec, dm_specs.BoundedArray((int(length),), np.int32, 0, len(vocabulary) + 1,
                                                     name=spec.name))
        self.length, self.mode, self.lowercase = int(length), mode, bool(lowercase)
        self.vocabulary = vocabulary
        self._ids = {token: index + 2 for index, token in enumerate(vocabulary)}
        self._table = None

    @property
    def num_values(self) -> int:
        return len(self.vocabulary) + 2

    def numpy(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], self.length), np.int32)
        for row, text in enumerate(x):
            text = text.decode() if isinstance(text, bytes) else text
            ids = [self._ids.get(token, UNKNOWN) for token in split(text, self.mode, self.lowercase)]
            ids = ids[:self.length]
            out[row, :len(ids)] = ids
        return out

    def prepare_tf(self) -> None:
        import tensorflow as tf
        if self._table is None:
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self.vocabulary), tf.constant(list(self._ids.values()), tf.int32)),
                default_value=UNKNOWN)

    def tf(self, x: Any) -> Any:
        import tensorflow as tf
        self.prepare_tf()
        if self.lowercase:
            x = tf.strings.lower(x)
        if self.mode == 'characters':
            tokens = tf.strings.unicode_split(x, 'UTF-8')
        else:
            tokens = tf.strings.split(tf.strings.strip(
                tf.strings.regex_replace(x, _SEPARATORS[self.lowercase], ' ')))
        ids = tf.ragged.map_flat_values(self._table.lookup, tokens)
        return ids.to_tensor(default_value=PAD, shape=(None, self.length))
