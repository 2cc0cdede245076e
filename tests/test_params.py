"""The get_params/set_params contract shared by optimizers, schedulers, initializers, callbacks."""

import pickle
import subprocess
import sys

import pytest
from sklearn.base import clone

from skmx import _params, callback, initializer, lr_scheduler, optimizer
from skmx._params import ParamsMixin


class Leaf(ParamsMixin):
    def __init__(self, size=3, name="leaf"):
        self.size = size
        self.name = name
        self.calls = 0


class Recorded(ParamsMixin):
    def __init__(self, rate=0.1, child=None, *args, **kwargs):
        self._record_params(locals())
        self.lr = rate * 2  # stored under another name: only the record knows `rate`
        self.child = child


def test_param_names_follow_the_signature():
    assert Leaf._get_param_names() == ["size", "name"]
    assert Recorded._get_param_names() == ["rate", "child"]
    assert _params.param_names(ParamsMixin) == []


def test_get_params_reads_attributes_or_the_record():
    assert Leaf(5).get_params() == {"size": 5, "name": "leaf"}
    outer = Recorded(0.5, child=Leaf(7))
    assert outer.get_params(deep=False) == {"rate": 0.5, "child": outer.child}
    deep = outer.get_params()
    assert deep["child__size"] == 7 and deep["child__name"] == "leaf"
    assert Recorded(child=Leaf).get_params() == {"rate": 0.1, "child": Leaf}  # a class


def test_set_params_rebuilds_and_reaches_nested_objects():
    outer = Recorded(0.5, child=Leaf(7))
    outer.child.calls = 4
    assert outer.set_params(rate=0.25, child__size=9) is outer
    assert outer.lr == 0.5 and outer.get_params()["rate"] == 0.25
    assert outer.child.size == 9 and outer.child.calls == 0
    replacement = Leaf(1)
    outer.set_params(child=replacement, child__name="new")
    assert outer.child is replacement and replacement.name == "new"


def test_set_params_errors_name_the_key():
    leaf = Leaf()
    with pytest.raises(ValueError, match=r"Invalid parameter 'sise' for Leaf; valid "
                                         r"parameters are \['size', 'name'\]"):
        leaf.set_params(sise=1)
    with pytest.raises(ValueError, match="Invalid parameter 'child__size' for Recorded: "
                                         "child=None has no parameters"):
        Recorded().set_params(child__size=1)
    assert leaf.set_params() is leaf


def test_repr_lists_the_parameters():
    assert repr(Leaf(2, "x")) == "Leaf(size=2, name='x')"


def test_clone_and_pickle():
    outer = Recorded(0.3, child=Leaf(4))
    for copy in (clone(outer), pickle.loads(pickle.dumps(outer))):
        assert type(copy) is Recorded and copy.get_params()["child__size"] == 4
        assert copy.lr == outer.lr


@pytest.mark.parametrize("obj", [
    optimizer.create("sgd", lr_scheduler=lr_scheduler.FactorScheduler(step=2)),
    lr_scheduler.CosineScheduler(max_update=10),
    initializer.Load({}, default_init=initializer.Uniform(0.1)),
    callback.Speedometer(16),
], ids=lambda o: type(o).__name__)
def test_the_four_families_share_the_contract(obj):
    params = obj.get_params(deep=True)
    nested = {k: v for k, v in params.items() if "__" in k}
    own = obj.get_params(deep=False)
    assert set(params) == set(own) | set(nested)
    assert list(own) == type(obj)._get_param_names()
    with pytest.raises(ValueError, match=f"Invalid parameter 'bogus' for {type(obj).__name__}"):
        obj.set_params(bogus=1)
    if nested:
        key, value = next(iter(nested.items()))
        obj.set_params(**{key: value})
        assert obj.get_params()[key] == value


def test_initializer_keeps_its_verbosity_through_set_params():
    init = initializer.Uniform(0.1).set_verbosity(True)
    init.set_params(scale=0.2)
    assert init.scale == 0.2 and init._verbose


def test_params_module_does_not_import_scikit_learn():
    code = "import sys, skmx._params; assert 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
