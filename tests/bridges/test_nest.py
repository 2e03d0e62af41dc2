import pytest
from hypothesis import given, strategies as st

from modalbridge.bridges import ConfigError, names, nest


def children(node):
    if isinstance(node, dict):
        return node.items()
    if isinstance(node, (list, tuple)):
        return enumerate(node)
    return None


def rebuild(node, items):
    return dict(items) if isinstance(node, dict) else type(node)(value for _, value in items)


structures = st.recursive(
    st.integers(),
    lambda inner: st.dictionaries(st.text(alphabet='ab/%', min_size=1, max_size=3), inner, min_size=1, max_size=3)
    | st.lists(inner, min_size=1, max_size=3) | st.lists(inner, min_size=1, max_size=3).map(tuple),
    max_leaves=8)


@given(structures)
def test_flatten_then_assemble_gives_the_structure_back(structure):
    flat = nest.flatten(structure, children, 'state', 'observation')
    values = {name: leaf for name, (_, leaf) in flat.items()}
    build = nest.assembler(structure, children, rebuild, lambda path: lambda f, n=names.join(path) if path else 'state': f[n])
    assert build(values) == structure
    for name, (path, leaf) in flat.items():
        assert nest.getter(path)(structure) == leaf
        assert name == (names.join(path) if path else 'state')


def test_a_bare_leaf_is_named_single():
    assert nest.flatten(3, children, 'action', 'action') == {'action': ((), 3)}


def test_colliding_names_and_empty_structures_are_config_errors():
    with pytest.raises(ConfigError, match=r"observation: the paths \(0,\) and \('0',\) both flatten to the name '0'"):
        nest.flatten({0: 1, '0': 2}, children, 'state', 'observation')
    with pytest.raises(ConfigError, match='has no leaves'):
        nest.flatten({}, children, 'state', 'observation')
