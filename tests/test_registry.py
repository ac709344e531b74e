"""The registry: natural ordering, filtering, duplicates and unknown names."""

from __future__ import annotations

import pytest

from crossmodal.errors import DuplicateComponentError, UnknownComponentError
from crossmodal.contract.registry import Registry


def _factory():
    """A factory used in tests."""
    return object()


def test_names_are_in_natural_order_and_filtered():
    registry = Registry()
    for name in ["bar10", "bar2", "critic", "bar1"]:
        registry.add("decoder", name, _factory, plugin="p")
    assert registry.names("decoder") == ["bar1", "bar2", "bar10", "critic"]
    assert registry.names("decoder", "bar*") == ["bar1", "bar2", "bar10"]


def test_duplicate_names_both_providers():
    registry = Registry()
    registry.add("encoder", "paint", _factory, plugin="a", distribution="dist-a", version="1")
    with pytest.raises(DuplicateComponentError, match=r"by a \(dist-a==1\) and by b"):
        registry.add("encoder", "paint", _factory, plugin="b")


def test_same_name_in_two_kinds_is_allowed():
    registry = Registry()
    registry.add("encoder", "x", _factory, plugin="a")
    registry.add("critic", "x", _factory, plugin="a")
    assert len(registry) == 2


def test_unknown_name_suggests_closest_and_lists_known():
    registry = Registry()
    registry.add("decoder", "segment-bar", _factory, plugin="a")
    registry.add("decoder", "toy", _factory, plugin="a")
    with pytest.raises(UnknownComponentError) as info:
        registry.get("decoder", "segment-bars")
    message = str(info.value)
    assert "Did you mean 'segment-bar'?" in message
    assert "Known decoders: segment-bar, toy" in message
    assert "crossmodal list-components --kind decoder" in message


def test_unknown_kind_and_bad_registrations():
    registry = Registry()
    with pytest.raises(ValueError, match="unknown kind 'model'"):
        registry.add("model", "x", _factory, plugin="a")
    with pytest.raises(ValueError, match="not callable"):
        registry.add("encoder", "x", 3, plugin="a")
    with pytest.raises(UnknownComponentError, match="unknown kind"):
        registry.get("model", "x")


def test_description_defaults_to_docstring_summary_and_create_calls_factory():
    registry = Registry()
    info = registry.add("sample-writer", "w", _factory, plugin="a")
    assert info.description == "A factory used in tests."
    assert registry.create("sample-writer", "w") is not registry.create("sample-writer", "w")


def test_a_name_two_plugins_registered_is_refused_until_one_is_left_out():
    registry = Registry()
    registry.add("encoder", "paint", _factory, plugin="a", distribution="dist-a", version="1")
    with pytest.raises(DuplicateComponentError):
        registry.add("encoder", "paint", _factory, plugin="b", distribution="dist-b", version="2")
    assert [e.plugin for e in registry.entries()] == ["a"]  # the first stays listed...
    with pytest.raises(DuplicateComponentError, match=r"registered by 2 plugins: a \(dist-a==1\) and b \(dist-b==2\)"):
        registry.create("encoder", "paint")  # ...but neither is used
    assert registry.contested() == {("encoder", "paint"): ["a (dist-a==1)", "b (dist-b==2)"]}


def test_a_plugin_repeating_a_name_contests_nothing():
    registry = Registry()
    registry.add("encoder", "paint", _factory, plugin="a")
    with pytest.raises(DuplicateComponentError, match="by a and by a"):
        registry.add("encoder", "paint", _factory, plugin="a")
    assert registry.contested() == {} and registry.get("encoder", "paint").plugin == "a"
