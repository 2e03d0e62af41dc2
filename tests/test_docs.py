"""The documentation: the site builds with --strict, its guides' code runs, and
no link in the README, the changelog or docs/ points outside the repository
(except to third-party sites) or to a file that does not exist."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ROOT / 'docs' / 'guides'
PAGES = [ROOT / 'README.md', ROOT / 'CHANGELOG.md', *sorted((ROOT / 'docs').rglob('*.md'))]
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')
EXTERNAL = re.compile(r'^[a-z][a-z0-9+.-]*:', re.I)  # https:, mailto:, ...


def _links(page: Path) -> list[str]:
    text = re.sub(r'```.*?```', '', page.read_text(encoding='utf-8'), flags=re.S)  # code is not links
    return LINK.findall(text)


def _parent_paths(page: Path) -> list[str]:
    """Paths written as code that climb out of the page's folder (`../shared/DESIGN.md`)."""
    return re.findall(r'`(\.\./[^`\s]*)`', page.read_text(encoding='utf-8'))


def _blocks(page: Path) -> list[str]:
    return re.findall(r'```python\n(.*?)```', page.read_text(encoding='utf-8'), flags=re.S)


def _run(page: Path, replace: dict[str, str] = {}, name: str = '__doc__') -> dict:
    scope = {'__name__': name}
    for block in _blocks(page):
        for old, new in replace.items():
            block = block.replace(old, new)
        exec(compile(block, str(page), 'exec'), scope)
    return scope


# -- links -----------------------------------------------------------------------


def test_the_pages_are_found():
    names = {page.relative_to(ROOT).as_posix() for page in PAGES}
    assert {'README.md', 'docs/index.md', 'docs/guides/wrap-an-environment.md'} <= names


@pytest.mark.parametrize('page', PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_relative_links_resolve_inside_the_repository(page):
    for target in _links(page):
        if EXTERNAL.match(target) or target.startswith('#'):
            continue
        assert not target.startswith('/'), f'{page.name}: absolute link {target!r}'
        path = (page.parent / target.split('#')[0]).resolve()
        assert path.is_relative_to(ROOT), f'{page.name}: {target!r} points outside the repository'
        assert path.exists(), f'{page.name}: {target!r} does not exist'
    for target in _parent_paths(page):
        path = (page.parent / target).resolve()
        assert path.is_relative_to(ROOT), f'{page.name}: {target!r} points outside the repository'


def test_the_link_check_catches_a_broken_and_an_outside_link(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('[a](missing.md) [b](../shared/DESIGN.md) [c](https://example.org) '
                    '```\n[not a link](nowhere.md)\n```')
    assert _links(page) == ['missing.md', '../shared/DESIGN.md', 'https://example.org']
    page.write_text('the design is in `../shared/DESIGN.md`')
    assert _parent_paths(page) == ['../shared/DESIGN.md']


def test_the_readme_links_every_guide():
    readme = _links(ROOT / 'README.md')
    for guide in GUIDES.glob('*.md'):
        assert guide.relative_to(ROOT).as_posix() in readme, f'README does not link {guide.name}'


def test_mkdocs_lists_every_page():
    config = (ROOT / 'mkdocs.yml').read_text()
    for page in (ROOT / 'docs').rglob('*.md'):
        assert page.relative_to(ROOT / 'docs').as_posix() in config, f'mkdocs.yml nav lacks {page.name}'


# -- the site --------------------------------------------------------------------


def test_the_site_builds_strictly(tmp_path):
    for module in ('mkdocs', 'material', 'mkdocstrings', 'mkdocstrings_handlers.python'):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    result = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict', '-f', str(ROOT / 'mkdocs.yml'),
                             '-d', str(tmp_path / 'site')], capture_output=True, text=True, timeout=600,
                            env={**os.environ, 'NO_MKDOCS_2_WARNING': '1'})
    assert result.returncode == 0, result.stderr[-5000:]
    reference = (tmp_path / 'site' / 'api' / 'bridges' / 'index.html').read_text()
    assert 'GymBridge' in reference and 'dm_env' in reference  # the API reference came from the docstrings
    assert (tmp_path / 'site' / 'guides' / 'scale-out' / 'index.html').exists()
    for page in (tmp_path / 'site' / 'api').rglob('index.html'):
        html = page.read_text()
        # docstring examples render as code (docs/doctest_fences.py), not as '>>>' quotes or raw fences
        assert '<blockquote>' not in html and '```' not in html, page


def test_doctest_examples_are_fenced_where_not_already_code():
    pytest.importorskip('griffe')
    spec = importlib.util.spec_from_file_location('doctest_fences', ROOT / 'docs' / 'doctest_fences.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = 'Text.\n>>> 1 + 1\n2\n\nMore.'
    assert module.fence(text) == 'Text.\n\n```pycon\n>>> 1 + 1\n2\n```\n\nMore.'
    literal = 'A reST block::\n\n    >>> 1\n    1\n\nAfter.'
    assert module.fence(literal) == literal
    listed = '* an item::\n\n    >>> 1\n    1\n'
    assert module.fence(listed) == '* an item::\n\n    ```pycon\n    >>> 1\n    1\n    ```'


# -- the guides' code runs as written (training with a smaller budget) -------------


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_wrap_an_environment_guide_runs(in_tmp, capsys):
    scope = _run(GUIDES / 'wrap-an-environment.md')
    assert scope['report'].ok
    out = capsys.readouterr().out
    assert "'side': expected int64 scalar in [0, 2)" in out
    assert "'caption': {'type': 'text'" in out


def test_reuse_preprocessing_guide_runs(in_tmp, capsys):
    scope = _run(GUIDES / 'reuse-preprocessing.md')
    assert scope['out']['caption'].tolist() == [[2, 3, 0], [1, 2, 1]]
    assert scope['observations'].shape == (2, 8)
    assert 'Box(-1.0, 1.0, (12,), float32)' in capsys.readouterr().out


def test_train_and_export_guide_runs(in_tmp, capsys):
    scope = _run(GUIDES / 'train-and-export.md', {'timesteps=100_000': 'timesteps=1_000'})
    assert (in_tmp / 'runs' / 'cartpole' / 'agent.json').exists()
    assert (in_tmp / 'runs' / 'cartpole-savedmodel' / 'saved_model.pb').exists()
    assert scope['actions']['action'].shape == (8,)
    out = capsys.readouterr().out
    assert 'learning_rate' in out and '5 episodes: return' in out


def test_the_training_budget_replaced_is_in_the_guide():
    assert 'timesteps=100_000' in ''.join(_blocks(GUIDES / 'train-and-export.md'))


def test_scale_out_guide_runs(in_tmp, capsys):
    pytest.importorskip('envpool')
    _run(GUIDES / 'scale-out.md', name='__main__')
    out = capsys.readouterr().out
    assert '(4, 4) (4,)' in out and "['state'] (4, 4)" in out
