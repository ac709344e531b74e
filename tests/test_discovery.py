"""Discovery of third-party plugins through real entry-point metadata on a temporary path."""

from __future__ import annotations

from crossmodal.contract.discovery import find_entry_points
from crossmodal.contract.plugins import load_plugins

from plugin_factory import GOOD_PLUGIN, write_distribution


def test_finds_entry_point_with_distribution_and_version(tmp_path):
    write_distribution(tmp_path, "sketch-plugin", "1.2.3", {"sketch": "sketch_plugin"}, {"sketch_plugin": GOOD_PLUGIN})
    (ep,) = find_entry_points(path=[str(tmp_path)])
    assert (ep.name, ep.target, ep.distribution, ep.version) == ("sketch", "sketch_plugin", "sketch_plugin", "1.2.3")


def test_third_party_plugin_registers_components(tmp_path, monkeypatch):
    write_distribution(tmp_path, "sketch-plugin", "1.2.3", {"sketch": "sketch_plugin"}, {"sketch_plugin": GOOD_PLUGIN})
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins(path=[str(tmp_path)], strict=True)
    info = plugins.registry.get("encoder", "sketch")
    assert info.plugin == "sketch"
    assert info.provider == "sketch (sketch_plugin==1.2.3)"
    assert info.description == "Encodes 4-d sketches to 2-d features."
    assert plugins.registry.create("encoder", "sketch").feature_dim == 2
    assert plugins.registry.names("evaluator") == ["sketch-mean"]
    (loaded,) = plugins.loaded
    assert loaded.api_version == 2
    assert loaded.hooks == ("crossmodal_api_version", "crossmodal_register_components")


def test_entry_point_naming_an_object(tmp_path, monkeypatch):
    source = GOOD_PLUGIN + "\nclass _Holder:\n    pass\n\nINSTANCE = _Holder()\n"
    source += "INSTANCE.crossmodal_register_components = crossmodal_register_components\n"
    write_distribution(tmp_path, "obj", "0.1", {"obj": "obj_plugin:INSTANCE"}, {"obj_plugin": source})
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = load_plugins(path=[str(tmp_path)], strict=True)
    assert plugins.registry.names("encoder") == ["sketch"]
