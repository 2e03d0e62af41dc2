from hypothesis import given, strategies as st

from modalbridge.bridges import names


def test_join_uses_slash_between_levels():
    assert names.join(('inventory', 'wood')) == 'inventory/wood'
    assert names.join(('pos', 1)) == 'pos/1'


def test_slash_inside_a_key_is_escaped():
    assert names.join(('a/b', 'c')) == 'a%2Fb/c'
    assert names.split('a%2Fb/c') == ('a/b', 'c')


@given(st.lists(st.text(min_size=0, max_size=6, alphabet='ab/%2F5'), min_size=1, max_size=4))
def test_split_inverts_join_for_every_path(path):
    assert names.split(names.join(path)) == tuple(path)


@given(st.lists(st.text(max_size=4, alphabet='a/%2F5'), min_size=1, max_size=3),
       st.lists(st.text(max_size=4, alphabet='a/%2F5'), min_size=1, max_size=3))
def test_distinct_paths_get_distinct_names(first, second):
    if first != second:
        assert names.join(first) != names.join(second)
