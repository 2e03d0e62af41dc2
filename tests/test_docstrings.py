"""Every ``>>>`` example in the package's docstrings runs, one test per module.

pytest's own ``--doctest-modules`` would import each file a second time under a
bare name (``bridges.names`` beside ``modalbridge.bridges.names``, since
``pythonpath = ["."]``), so the modules are found on the folders the editable
install maps and imported once, under their ``modalbridge.*`` names.
"""

import doctest
import importlib
import importlib.util
import pkgutil
import re
import sys

import pytest

PACKAGES = ('modalbridge.bridges', 'modalbridge.envs', 'modalbridge.preprocess', 'modalbridge.agents')

# Modules whose examples fail today, in files other engineers are editing: remove an
# entry once its module passes (the xfail is strict, so a fixed module fails here).
KNOWN_FAILURES = {
}

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    """The package's modules, found without importing any of them."""
    found = ['modalbridge', 'modalbridge.cli']  # the top-level modules (not __main__, which runs the CLI)
    for package in PACKAGES:
        found.append(package)
        locations = importlib.util.find_spec(package).submodule_search_locations
        for info in pkgutil.walk_packages(locations, prefix=package + '.', onerror=lambda name: None):
            found.append(info.name)
    return sorted(found)


MODULES = _modules()


def _tests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [test for test in doctest.DocTestFinder(exclude_empty=True).find(module, name) if test.examples]


def test_the_modules_are_found_under_their_installed_names():
    assert {'modalbridge.bridges.specs', 'modalbridge.preprocess.stack', 'modalbridge.agents.runner',
            'modalbridge.envs.caption_room'} <= set(MODULES)
    assert not any(name.split('.')[0] in ('bridges', 'agents', 'preprocess', 'envs') for name in sys.modules)


@pytest.mark.parametrize('name', [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[name]))
    if name in KNOWN_FAILURES else name
    for name in MODULES])
def test_docstring_examples_run(name):
    tests = _tests(name)
    # every '>>>' line of the file is one the finder runs (none hides where doctest does not look)
    source = importlib.util.find_spec(name).origin
    with open(source, encoding='utf-8') as file:
        written = len(re.findall(r'^\s*>>> ', file.read(), flags=re.M))
    assert sum(len(test.examples) for test in tests) == written, f'{name}: some >>> examples are not collected'
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    output = []
    for test in tests:
        runner.run(test, out=output.append)
    assert runner.failures == 0, ''.join(output)


def test_the_known_failures_name_real_modules():
    assert set(KNOWN_FAILURES) <= set(MODULES)
