"""Malformed plugins are reported at load or recipe-build time, naming the plugin and the fault.

Load time (``crossmodal.contract.plugins``): a registration hook that returns a value, one that takes no
``register`` argument, ``register()`` called with missing or extra arguments (refused by Python's
own binding, a ``TypeError``), and with a bad name, factory or description.
Recipe-build time (``crossmodal.job.build``): a recipe factory that returns no ``Recipe``, a
component factory that builds the wrong type, and components whose sizes do not fit.
(Bad API versions, API-1 plugins, classes as entry points, unknown hooks and kinds, extra hook
arguments and duplicate names are covered in ``test_plugins.py``.)
"""

from __future__ import annotations

import itertools
import types

import pytest

import toy_plugin
from crossmodal import ComponentSpec, PluginLoadError, RecipeError, hookimpl
from crossmodal.job.build import build_job, get_recipe
from crossmodal.contract.plugins import CORE_ENTRIES, load_plugins

from plugin_factory import write_distribution

_module_numbers = itertools.count()


def _write_bad(site, source: str) -> None:
    """Plugin ``bad`` of distribution ``bad-dist`` 0.3, in a module of its own name (no import cache)."""
    module = f"bad_plugin_{next(_module_numbers)}"
    write_distribution(site, "bad-dist", "0.3", {"bad": module}, {module: source})


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests write plugin distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("CROSSMODAL_STRICT_PLUGINS", raising=False)
    return tmp_path


def _broken_message(site, body: str, error: type[BaseException] = PluginLoadError) -> str:
    """Install a plugin ``bad`` (distribution ``bad-dist`` 0.3) with ``body``; its failure message."""
    _write_bad(site, "from crossmodal import hookimpl\n" + body)
    plugins = load_plugins(path=[str(site)], strict=False)
    assert plugins.plugin_names() == []
    (broken,) = plugins.broken
    assert broken.name == "bad" and type(broken.error) is error
    assert len(plugins.registry) == len(CORE_ENTRIES), "a failing plugin must leave nothing registered"
    assert plugins.manager.get_plugin("bad") is None
    message = broken.message
    assert message.startswith(f"plugin 'bad' (bad_dist==0.3) failed to load: {error.__name__}: ")
    return message


def test_registration_hook_returning_a_value_is_refused(site):
    message = _broken_message(site, """
@hookimpl
def crossmodal_register_components(register):
    return [("encoder", "sketch", dict)]
""")
    assert "crossmodal_register_components() returned a list" in message
    assert "calls register(...) once per entry" in message


def test_registration_hook_without_register_argument_is_refused(site):
    message = _broken_message(site, """
@hookimpl
def crossmodal_register_components():
    pass
""")
    assert "crossmodal_register_components() takes no 'register' argument" in message
    assert "crossmodal_register_components(register)" in message


@pytest.mark.parametrize(
    "call, expected",
    [
        ('register("sample-writer", None, dict)', "crossmodal_register_components called register() with the name None"),
        ('register("sample-writer", "", dict)', "with the name ''"),
        ('register("sample-writer", 3, dict)', "with the name 3"),
        ('register("sample-writer", "npy", "numpy.save")',
         "registered sample-writer 'npy' as 'numpy.save', which is not an import path; write 'package.module:Attribute'"),
        ('register("sample-writer", "npy", 3.5)', "registered sample-writer 'npy' with a float as its factory"),
        ('register("sample-writer", "npy", dict, description=["one line"])',
         "registered sample-writer 'npy' with a list as its description"),
    ],
)
def test_bad_register_call_is_refused(site, call, expected):
    message = _broken_message(site, f"""
@hookimpl
def crossmodal_register_components(register):
    {call}
""")
    assert expected in message


@pytest.mark.parametrize(
    "call, expected",
    [
        ('register("encoder", "sketch")', "missing 1 required positional argument: 'factory'"),
        ('register("recipe", "toy", dict, "one line", "two lines")', "takes from 4 to 5 positional arguments but 6"),
        ('register("sample-set", "toy", dict, colour="red")', "got an unexpected keyword argument 'colour'"),
    ],
)
def test_register_called_with_missing_or_extra_arguments_is_refused(site, call, expected):
    """Python binds the call to ``register(kind, name, factory, description="")`` itself."""
    message = _broken_message(site, f"""
@hookimpl
def crossmodal_register_components(register):
    {call}
""", error=TypeError)
    assert "register() " in message and expected in message


def test_register_takes_keyword_arguments(site):
    source = """
from crossmodal import hookimpl

@hookimpl
def crossmodal_register_components(register):
    register(kind="sample-writer", name="npy", factory=dict, description="Writes arrays.")
"""
    _write_bad(site, source)
    plugins = load_plugins(path=[str(site)], strict=True)
    assert plugins.registry.get("sample-writer", "npy").description == "Writes arrays."


def test_bad_component_registration_names_the_kind(site):
    message = _broken_message(site, """
@hookimpl
def crossmodal_register_components(register):
    register("encoder", "sketch", None)
""")
    assert "crossmodal_register_components registered encoder 'sketch' with a NoneType as its factory" in message


def test_partial_registration_is_rolled_back(site):
    """Entries registered before the failing call are not left behind."""
    _broken_message(site, """
@hookimpl
def crossmodal_register_components(register):
    register("sample-set", "good", dict)
    register("sample-set", "bad", 42)
""")


def test_strict_mode_raises_the_same_message(site):
    source = "from crossmodal import hookimpl\n@hookimpl\ndef crossmodal_register_components(register):\n    return {}\n"
    _write_bad(site, source)
    with pytest.raises(PluginLoadError, match=r"plugin 'bad' .*crossmodal_register_components\(\) returned a dict"):
        load_plugins(path=[str(site)], strict=True)


# -------------------------------------------------------------------------------------------
# Recipe-build time: the toy plugin plus a plugin "mismatch" whose recipes do not fit it
# -------------------------------------------------------------------------------------------


def _recipe(name: str, **changes):
    recipe = toy_plugin.toy_recipe()
    fields = {**recipe.__dict__, "name": name, **changes}
    return type(recipe)(**fields)


def _registry(**recipes):
    """The toy plugin, and a plugin ``mismatch`` that registers ``recipes`` (name -> factory)."""
    module = types.ModuleType("mismatch")

    @hookimpl
    def crossmodal_register_components(register):
        register("encoder", "not-a-module", lambda: {"feature_dim": 4})
        for name, factory in recipes.items():
            register("recipe", name, factory)

    module.crossmodal_register_components = crossmodal_register_components
    plugins = load_plugins(allow=[], extra=[("toy", toy_plugin), ("mismatch", module)], strict=True)
    return plugins.registry


def test_recipe_factory_not_returning_a_recipe_names_the_plugin():
    registry = _registry(dictionary=lambda: {"encoder": "toy-encoder"})
    with pytest.raises(RecipeError) as info:
        get_recipe(registry, "dictionary")
    assert str(info.value) == "recipe 'dictionary' from mismatch: its factory returned dict, not a crossmodal.Recipe"


def test_component_factory_building_the_wrong_type_is_refused():
    registry = _registry(wrong=lambda: _recipe("wrong", encoder=ComponentSpec("not-a-module")))
    with pytest.raises(RecipeError, match=r"recipe 'wrong': encoder 'not-a-module' from mismatch built a dict, "
                                          r"which is not a crossmodal.Encoder"):
        build_job(registry, "wrong")


def test_decoder_input_not_fitting_encoder_and_temporal_is_refused():
    recipe = lambda: _recipe("narrow", decoder=ComponentSpec("toy-decoder", {"input_dim": 5}))  # noqa: E731
    with pytest.raises(RecipeError) as info:
        build_job(_registry(narrow=recipe), "narrow")
    message = str(info.value)
    assert "recipe 'narrow'" in message and "decoder 'toy-decoder'" in message
    assert "input_dim=5" in message and "feature_dim=4" in message and "temporal_dim=2" in message


def test_critic_not_fitting_the_generator_is_refused():
    critic = ComponentSpec("toy-critic", {"sample_shape": (2, 6, 3)})
    with pytest.raises(RecipeError) as info:
        build_job(_registry(wide=lambda: _recipe("wide", critic=critic)), "wide")
    message = str(info.value)
    assert "critic 'toy-critic' scores samples of shape (2, 6, 3)" in message
    assert "makes (segments, *segment_shape, tracks) = (2, 6, 2)" in message


def test_dataset_not_fitting_the_components_is_refused():
    targets = ComponentSpec("toy-targets", {"sample_shape": (2, 5, 2)})
    with pytest.raises(RecipeError) as info:
        build_job(_registry(short=lambda: _recipe("short", targets=targets)), "short")
    assert "targets dataset 'toy-targets' holds items of shape (2, 5, 2)" in str(info.value)
    assert "expects (2, 6, 2)" in str(info.value)
