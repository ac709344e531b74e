"""Plugin loading: isolation of broken plugins, strict mode, allow-lists, validation."""

from __future__ import annotations

import pytest

from crossmodal.errors import PluginLoadError
from crossmodal.contract.plugins import CORE_ENTRIES, CORE_PLUGIN, load_plugins

from plugin_factory import API_1_PLUGIN, GOOD_PLUGIN, unique_module, write_distribution


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path where tests write plugin distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _load(site, **kwargs):
    return load_plugins(path=[str(site)], **kwargs)


def test_plugin_raising_on_import_is_reported_not_fatal(site):
    write_distribution(site, "good", "1.0", {"good": "good_plugin"}, {"good_plugin": GOOD_PLUGIN})
    write_distribution(site, "bad", "2.0", {"bad": "bad_plugin"}, {"bad_plugin": "raise RuntimeError('boom at import')\n"})
    plugins = _load(site, strict=False)
    assert plugins.plugin_names() == ["good"]
    (broken,) = plugins.broken
    assert broken.name == "bad" and isinstance(broken.error, RuntimeError)
    assert "bad (bad==2.0)" not in broken.message  # distribution shown as name==version
    assert "'bad' (bad==2.0) failed to load: RuntimeError: boom at import" in broken.message
    assert "CROSSMODAL_LOAD_PLUGINS" in broken.message


def test_strict_mode_makes_a_broken_plugin_fatal(site):
    write_distribution(site, "bad", "2.0", {"bad": "bad_plugin"}, {"bad_plugin": "raise RuntimeError('boom')\n"})
    with pytest.raises(PluginLoadError, match="boom") as info:
        _load(site, strict=True)
    assert isinstance(info.value.__cause__, RuntimeError)


def test_strict_mode_from_environment(site, monkeypatch):
    write_distribution(site, "bad", "2.0", {"bad": "bad_plugin"}, {"bad_plugin": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("CROSSMODAL_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError):
        _load(site)


def test_entry_point_naming_a_class_is_refused(site):
    source = GOOD_PLUGIN + "\nclass Plugin:\n    crossmodal_register_components = crossmodal_register_components\n"
    write_distribution(site, "cls", "1.0", {"cls": "cls_plugin:Plugin"}, {"cls_plugin": source})
    (broken,) = _load(site).broken
    assert "names the class Plugin" in str(broken.error)


def test_hook_with_arguments_the_spec_lacks_is_refused(site):
    source = """
        from crossmodal import hookimpl

        @hookimpl
        def crossmodal_register_components(register, colour):
            pass
    """
    write_distribution(site, "sig", "1.0", {"sig": "sig_plugin"}, {"sig_plugin": source})
    (broken,) = _load(site).broken
    assert "colour" in str(broken.error)


def test_unknown_hook_is_refused(site):
    source = """
        from crossmodal import hookimpl

        @hookimpl
        def crossmodal_register_modles(register):
            pass
    """
    write_distribution(site, "typo", "1.0", {"typo": "typo_plugin"}, {"typo_plugin": source})
    (broken,) = _load(site).broken
    assert "unknown hook 'crossmodal_register_modles'" in str(broken.error)  # pluggy's check_pending()
    assert str(broken.error).endswith("; the hooks are listed in crossmodal.contract.hookspecs")


def test_incompatible_api_version_is_refused(site):
    source = GOOD_PLUGIN.replace("return API_VERSION", "return API_VERSION + 1")
    write_distribution(site, "future", "9.0", {"future": "future_plugin"}, {"future_plugin": source})
    (broken,) = _load(site).broken
    assert "plugin API 3" in str(broken.error) and "provides API 2" in str(broken.error)


@pytest.mark.parametrize(
    "source, says",
    [
        (API_1_PLUGIN, "PluginLoadError: written for crossmodal plugin API 1, but this crossmodal provides API 2"),
        (API_1_PLUGIN.replace("return 1", "return None"), "unknown hook 'crossmodal_register_datasets'"),
    ],
    ids=["declares-api-1", "api-1-hooks-without-a-version"],
)
def test_api_1_plugin_is_refused_in_one_line(site, source, says):
    module = unique_module("old_plugin")
    write_distribution(site, "old", "0.9", {"old": module}, {module: source})
    plugins = _load(site)
    assert plugins.loaded == [] and len(plugins.registry) == len(CORE_ENTRIES)
    (broken,) = plugins.broken
    assert says in broken.message and "\n" not in broken.message


def test_duplicate_component_names_both_providers_and_rolls_back(site):
    write_distribution(site, "first", "1.0", {"first": "first_plugin"}, {"first_plugin": GOOD_PLUGIN})
    write_distribution(site, "second", "3.1", {"second": "second_plugin"}, {"second_plugin": GOOD_PLUGIN})
    plugins = _load(site)
    (broken,) = plugins.broken
    message = str(broken.error)
    assert "encoder 'sketch' is registered twice" in message
    assert "first (first==1.0)" in message and "second (second==3.1)" in message
    # the plugin that came second leaves nothing half-registered; the first keeps its entries
    (owner,) = plugins.plugin_names()
    assert {owner, broken.name} == {"first", "second"}
    assert [e.plugin for e in plugins.registry.entries() if e.plugin != CORE_PLUGIN] == [owner, owner]
    assert plugins.manager.get_plugin(broken.name) is None


def test_unknown_kind_in_register_lists_the_kinds(site):
    source = """
        from crossmodal import hookimpl

        @hookimpl
        def crossmodal_register_components(register):
            register("dataset", "x", dict)
    """
    write_distribution(site, "kind", "1.0", {"kind": "kind_plugin"}, {"kind_plugin": source})
    (broken,) = _load(site).broken
    assert str(broken.error) == (
        "crossmodal_register_components registered 'x' under the unknown kind 'dataset'; the kinds are encoder, "
        "temporal-source, decoder, critic, evaluator, descriptor, sample-set, sample-writer, sample-renderer, pairing, "
        "loss-term, recipe, "
        "pretrained-model"
    )


def test_allow_list_from_environment(site, monkeypatch):
    write_distribution(site, "good", "1.0", {"good": "good_plugin"}, {"good_plugin": GOOD_PLUGIN})
    write_distribution(site, "bad", "2.0", {"bad": "bad_plugin"}, {"bad_plugin": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "good")
    plugins = _load(site, strict=True)
    assert plugins.plugin_names() == ["good"] and not plugins.broken
    monkeypatch.setenv("CROSSMODAL_LOAD_PLUGINS", "")
    plugins = _load(site, strict=True)
    assert plugins.plugin_names() == [] and len(plugins.registry) == len(CORE_ENTRIES)


def test_in_process_plugin_object():
    import types

    from crossmodal import hookimpl

    module = types.ModuleType("inline")

    @hookimpl
    def crossmodal_register_components(register):
        def npy_writer():
            """Writes arrays."""

        register("sample-writer", "npy", npy_writer)

    module.crossmodal_register_components = crossmodal_register_components
    plugins = load_plugins(allow=[], extra=[("inline", module)], strict=True)
    assert plugins.registry.get("sample-writer", "npy").description == "Writes arrays."
