"""`tokenize`: text to fixed-length integer ids."""

from __future__ import annotations

import collections
import dataclasses
import re
from typing import Any, Iterable, Sequence

import numpy as np
from dm_env import specs as dm_specs

from modalbridge.bridges.arguments import boolean, choice, integer
from modalbridge.bridges.errors import ConfigError
from modalbridge.bridges.specs import Spec, describe, is_text
from modalbridge.preprocess.base import Preprocessor

PAD, UNKNOWN = 0, 1
_SEPARATORS = {True: '[^a-z0-9]+', False: '[^A-Za-z0-9]+'}
MODES = ('words', 'characters')
MAX_LENGTH = 1 << 16  # token ids per text


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


@dataclasses.dataclass(frozen=True)
class Coverage:
    """How well a vocabulary covers a corpus: `unknown_rate` of its tokens map to id 1."""

    tokens: int
    """Tokens in the corpus."""
    unknown: int
    """Of them, tokens not in the vocabulary."""
    missing: tuple[str, ...]
    """The distinct unknown tokens, most frequent first (ties alphabetically)."""

    @property
    def unknown_rate(self) -> float:
        return self.unknown / self.tokens if self.tokens else 0.0


def coverage(vocabulary: Sequence[str], corpus: Iterable[str], mode: str = 'words',
             lowercase: bool = True) -> Coverage:
    """The unknown-token rate of `vocabulary` on `corpus`, tokenized as `Tokenize` does, to
    catch a vocabulary that misses the task's words before training.

    >>> report = coverage(['go', 'to', 'the', 'red', 'ball'], ['go to the red ball', 'Go to the BLUE box'])
    >>> report.tokens, report.unknown, report.missing, f'{report.unknown_rate:.0%}'
    (10, 2, ('blue', 'box'), '20%')
    """
    mode, lowercase = choice('mode', mode, MODES), boolean('lowercase', lowercase)
    if isinstance(corpus, str):
        raise ConfigError('corpus: expected a list of texts; received one string')
    if isinstance(vocabulary, str) or not all(isinstance(token, str) for token in vocabulary):
        raise ConfigError(f'vocabulary: expected a list of strings; received {vocabulary!r:.80}')
    known = set(vocabulary)
    counts: collections.Counter[str] = collections.Counter()
    tokens = 0
    for text in corpus:
        if not isinstance(text, str):
            raise ConfigError(f'corpus: expected texts (strings); received {text!r:.80}')
        for token in split(text, mode, lowercase):
            tokens += 1
            if token not in known:
                counts[token] += 1
    missing = tuple(sorted(counts, key=lambda token: (-counts[token], token)))
    return Coverage(tokens, sum(counts.values()), missing)


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
        length = integer('length', length, minimum=1, maximum=MAX_LENGTH)
        mode, lowercase = choice('mode', mode, MODES), boolean('lowercase', lowercase)
        if (vocabulary is None) == (corpus is None):
            raise ConfigError('give exactly one of vocabulary=[...] or corpus=[...]')
        if corpus is not None:
            if not isinstance(corpus, (list, tuple)) or not all(isinstance(text, str) for text in corpus):
                raise ConfigError(f'corpus: expected a list of texts (strings); received {corpus!r:.80}')
            vocabulary = vocabulary_of(corpus, mode, lowercase)
        if (not isinstance(vocabulary, (list, tuple)) or not vocabulary
                or not all(isinstance(token, str) for token in vocabulary)):
            raise ConfigError(f'vocabulary: expected a non-empty list of strings; received {vocabulary!r:.80}')
        vocabulary = list(vocabulary)
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
        self._table: Any = None  # a tf.lookup table, made on first TF use

    def config(self) -> dict[str, Any]:
        """The entry with the vocabulary by value (a corpus is not kept)."""
        entry = {key: value for key, value in self.entry.items() if key != 'corpus'}
        return {**entry, 'vocabulary': list(self.vocabulary)}

    @property
    def num_values(self) -> int:
        return len(self.vocabulary) + 2

    def coverage(self, corpus: Iterable[str]) -> Coverage:
        """This tokenizer's vocabulary on `corpus` (see `coverage`)."""
        return coverage(self.vocabulary, corpus, self.mode, self.lowercase)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        out = np.zeros((x.shape[0], self.length), np.int32)
        for row, text in enumerate(x):
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
