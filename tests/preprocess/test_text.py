import numpy as np
import pytest
from dm_env import specs as dm_specs

from modalbridge.bridges import ConfigError
from modalbridge.preprocess import Stack
from modalbridge.bridges.specs import from_dict
from modalbridge.preprocess.text import Tokenize, coverage, vocabulary_of

from tests.preprocess.helpers import both

TEXT = dict(type='text')
VOCABULARY = ['go', 'to', 'the', 'red', 'blue', 'ball', 'key']


def captions(*texts):
    return [dict(caption=np.array(texts, dtype=object))]


def test_tokenize_golden_ids_pad_unknown_and_cut():
    stack, out = both(dict(caption=TEXT), [dict(type='tokenize', length=5, vocabulary=VOCABULARY)],
                      captions('Go to the RED ball!', 'the green key', 'go go go go go go go', ''))
    assert out[0]['caption'].tolist() == [[2, 3, 4, 5, 7], [4, 1, 8, 0, 0], [2, 2, 2, 2, 2], [0, 0, 0, 0, 0]]
    assert stack.states['caption'] == dm_specs.BoundedArray((5,), np.int32, 0, 8, name='caption')


def test_tokenize_builds_a_vocabulary_from_a_corpus():
    corpus = ['go to the red ball', 'go to the blue key', 'pick the key']
    assert vocabulary_of(corpus) == ['the', 'go', 'key', 'to', 'ball', 'blue', 'pick', 'red']
    stack, out = both(dict(caption=TEXT), [dict(type='tokenize', length=3, corpus=corpus)], captions('pick a key'))
    assert out[0]['caption'].tolist() == [[8, 1, 4]]
    assert stack.states['caption'].maximum == 9  # num_values = 8 words + pad + unknown = 10


def test_tokenize_characters():
    _, out = both(dict(caption=TEXT), [dict(type='tokenize', length=4, mode='characters', vocabulary=list('ab '))],
                  captions('Ab c'))
    assert out[0]['caption'].tolist() == [[2, 3, 4, 1]]


def test_tokenize_keeps_case_when_asked():
    _, out = both(dict(caption=TEXT), [dict(type='tokenize', length=2, lowercase=False, vocabulary=['Red'])],
                  captions('Red red'))
    assert out[0]['caption'].tolist() == [[2, 1]]


def test_a_single_unbatched_text_is_accepted():
    stack = Stack(dict(caption=TEXT), [dict(type='tokenize', length=3, vocabulary=VOCABULARY)], backend='numpy')
    assert stack(dict(caption='red ball'))['caption'].tolist() == [5, 7, 0]


@pytest.mark.parametrize('entry, message', [
    (dict(), 'give exactly one of vocabulary=[...] or corpus=[...]'),
    (dict(vocabulary=['a'], corpus=['a']), 'give exactly one of vocabulary=[...] or corpus=[...]'),
    (dict(vocabulary=['a', 'a']), "vocabulary has duplicates: ['a']"),
    (dict(vocabulary=['Red']), "vocabulary entries ['Red'] can never match"),
    (dict(vocabulary=['red ball']), "vocabulary entries ['red ball'] can never match"),
    (dict(vocabulary=[]), 'vocabulary: expected a non-empty list of strings'),
    (dict(corpus='go to'), 'corpus: expected a list of texts (strings)'),
    (dict(vocabulary=['a'], mode='bytes'), "mode: expected one of ['words', 'characters']"),
    (dict(vocabulary=['a'], length=0), 'length: expected an int in [1, 65536]'),
])
def test_tokenize_errors(entry, message):
    with pytest.raises(ConfigError) as caught:
        Stack(dict(caption=TEXT), [dict(type='tokenize', **entry)])
    assert str(caught.value) == f'preprocessing[0] (tokenize): {message}' or message in str(caught.value)
    assert str(caught.value).startswith('preprocessing[0] (tokenize): ')


def test_tokenize_refuses_an_image():
    with pytest.raises(ConfigError, match=r'\(tokenize\): expects text \(a scalar StringArray\); got uint8 array'):
        Stack(dict(image=dict(type='int', shape=(2, 2, 3), min_value=0, max_value=255, dtype='uint8')),
              [dict(type='tokenize', vocabulary=['a'])])


def test_coverage_reports_the_unknown_token_rate_of_a_vocabulary_on_a_corpus():
    report = coverage(VOCABULARY, ['go to the red ball', 'Go to the GREEN box', 'go to the green key'])
    assert (report.tokens, report.unknown) == (15, 3)
    assert report.missing == ('green', 'box')
    assert report.unknown_rate == pytest.approx(0.2)
    assert coverage(VOCABULARY, []).unknown_rate == 0.0


def test_coverage_counts_exactly_the_ids_tokenize_maps_to_unknown():
    corpus = ['Go to the BLUE ball!', 'the purple key, then the red door', 'gotothe']
    stack = Stack(dict(caption=TEXT), dict(caption=[dict(type='tokenize', length=16, vocabulary=VOCABULARY)]),
                  num_envs=len(corpus), backend='numpy')
    ids = stack(dict(caption=np.array(corpus, object)))['caption']
    report = Tokenize(from_dict(TEXT, name='caption'), length=16, vocabulary=VOCABULARY).coverage(corpus)
    assert report.unknown == int((ids == 1).sum())
    assert report.tokens == int((ids > 0).sum())


@pytest.mark.parametrize('vocabulary, corpus, message', [
    (VOCABULARY, 'go to the ball', 'corpus: expected a list of texts; received one string'),
    (VOCABULARY, ['go', 3], 'corpus: expected texts'),
    ('go', ['go'], 'vocabulary: expected a list of strings'),
])
def test_coverage_errors(vocabulary, corpus, message):
    with pytest.raises(ConfigError, match=message):
        coverage(vocabulary, corpus)
