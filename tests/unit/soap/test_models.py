"""soap/models.py: the spyne models of the requests and the empty instances spyne fills."""

from __future__ import annotations

import inspect

import pytest
from spyne import ComplexModelBase

from selfemployed_gateway.soap import models


def test_every_model_of_the_module_is_a_read_model() -> None:
    """A model added to the module without the fast empty instance would be read through
    spyne's own walk: slower only, but the list is the module's, kept equal here."""
    defined = {
        value
        for value in vars(models).values()
        if inspect.isclass(value)
        and issubclass(value, ComplexModelBase)
        and value.__module__ == models.__name__
    }
    assert defined == set(models.READ_MODELS)


@pytest.mark.parametrize("model", models.READ_MODELS, ids=lambda model: model.__name__)
def test_the_empty_instance_is_what_spyne_builds(model: type) -> None:
    """Issue #17: the instance spyne fills is the one its own constructor makes — every
    member there and None — for the model and for a customised class of it."""
    expected = model()
    for cls in (model, model.customize(sub_ns=""), model.customize(min_occurs=1)):  # type: ignore[attr-defined]
        instance = cls.get_deserialization_instance(None)  # type: ignore[attr-defined]
        assert type(instance) is model
        assert instance.__dict__ == expected.__dict__
        assert set(instance.__dict__) == set(model.get_flat_type_info(model))  # type: ignore[attr-defined]
