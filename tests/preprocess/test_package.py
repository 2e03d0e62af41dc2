"""The public names of modalbridge.preprocess."""

import pytest

import modalbridge.preprocess as preprocess


def test_all_lists_the_public_api_and_each_name_exists():
    assert sorted(preprocess.__all__) == sorted([
        'PreprocessDMEnv', 'PreprocessObservation', 'PreprocessVectorObservation', 'Preprocessed',
        'PreprocessedVector', 'Preprocessor', 'PreprocessingLayer', 'Stack', 'normalize_declaration',
        'preprocessor_types'])
    for name in preprocess.__all__:
        assert getattr(preprocess, name) is not None


def test_the_types_are_listed_read_only():
    types = preprocess.preprocessor_types()
    assert {'image_resize', 'grayscale', 'sequence', 'tokenize', 'running_standardize'} <= set(types)
    with pytest.raises(TypeError):
        types['evil'] = object
    assert not hasattr(preprocess, 'REGISTRY') and not hasattr(preprocess, 'load')


def test_normalize_declaration_gives_the_normal_form_and_the_places():
    normal, places = preprocess.normalize_declaration(
        dict(x=['center', dict(type='scale', kwargs=dict(factor=2))]), dict(x=None))
    assert normal == dict(x=[dict(type='center'), dict(type='scale', factor=2)])
    assert places == dict(x="preprocessing['x']")
