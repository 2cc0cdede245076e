"""Tests for skmx.checkpoint: the save order and the symbol/params consistency check."""

import itertools
import json
import logging
import re

import numpy as np
import pytest

from skmx import nd
from skmx import symbol as sym
from skmx.checkpoint import (load_checkpoint, load_params, params_filename, save_checkpoint,
                             symbol_filename)
from skmx.exceptions import MXNetError


def _mlp(hidden=8, n_out=3, extra_layer=False, batch_norm=False):
    net = sym.FullyConnected(sym.Variable("data"), num_hidden=hidden, name="fc1")
    if batch_norm:
        net = sym.BatchNorm(net, name="bn1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    if extra_layer:
        net = sym.FullyConnected(net, num_hidden=hidden, name="fc3")
    net = sym.FullyConnected(net, num_hidden=n_out, name="fc2")
    return sym.SoftmaxOutput(net, name="softmax")


def _params(net, n_features=5):
    arg_shapes, _, aux_shapes = net.infer_shape(data=(4, n_features))
    rng = np.random.default_rng(0)
    arg = {name: rng.standard_normal(shape).astype(np.float32)
           for name, shape in zip(net.list_arguments(), arg_shapes)
           if name not in ("data", "softmax_label")}
    aux = {name: np.ones(shape, np.float32)
           for name, shape in zip(net.list_auxiliary_states(), aux_shapes)}
    return arg, aux


class _FailingSymbol:
    """A graph whose save is interrupted (as by a kill after the first file)."""

    def __init__(self, symbol):
        self.symbol = symbol

    def save(self, fname, remove_amp_cast=True):
        raise KeyboardInterrupt("interrupted")


def test_save_checkpoint_writes_the_params_before_the_symbol(tmp_path):
    prefix = str(tmp_path / "net")
    net = _mlp()
    arg, aux = _params(net)
    save_checkpoint(prefix, 1, net, arg, aux)
    graph = (tmp_path / "net-symbol.json").read_bytes()
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(prefix, 2, _FailingSymbol(net), arg, aux)
    # The parameters made it; the earlier graph is intact and pairs with them.
    assert (tmp_path / "net-symbol.json").read_bytes() == graph
    loaded_sym, loaded_arg, _ = load_checkpoint(prefix, 2)
    assert loaded_sym.list_arguments() == net.list_arguments()
    np.testing.assert_array_equal(loaded_arg["fc1_weight"], arg["fc1_weight"])


def _interrupted_save(prefix, epoch, arg, aux):
    """What a save killed between its two files leaves: new params, the old graph."""
    save_checkpoint(prefix, epoch, None, arg, aux)


def test_load_checkpoint_rejects_params_that_do_not_fit_the_symbol(tmp_path, caplog):
    prefix = str(tmp_path / "net")
    net = _mlp(hidden=8)
    save_checkpoint(prefix, 1, net, *_params(net))
    params_file, symbol_file = params_filename(prefix, 2), symbol_filename(prefix)
    head = (rf"checkpoint mismatch: '{re.escape(params_file)}' does not belong to "
            rf"'{re.escape(symbol_file)}': ")

    _interrupted_save(prefix, 2, *_params(_mlp(hidden=16)))  # same names, other sizes
    with pytest.raises(MXNetError, match=head + r"the parameter shapes .*'fc1'.*weight"):
        load_checkpoint(prefix, 2)
    _interrupted_save(prefix, 2, *_params(_mlp(n_out=4)))  # only the last layer differs
    with pytest.raises(MXNetError, match=head + r"the parameter shapes .*'fc2'"):
        load_checkpoint(prefix, 2)
    _interrupted_save(prefix, 2, *_params(net, n_features=7))  # the graph fixes no input width
    assert load_checkpoint(prefix, 2)[1]["fc1_weight"].shape == (8, 7)
    # Names the graph does not use are kept, as MXNet keeps them; FeedForward's
    # allow_extra_params decides about them.
    _interrupted_save(prefix, 2, *_params(_mlp(extra_layer=True)))
    assert {"fc3_weight", "fc3_bias"} <= set(load_checkpoint(prefix, 2)[1])
    arg, aux = _params(net)
    del arg["fc2_bias"]
    _interrupted_save(prefix, 2, arg, aux)
    with pytest.raises(MXNetError, match=head + r"graph parameters missing .*'fc2_bias'"):
        load_checkpoint(prefix, 2)

    bn_net = _mlp(batch_norm=True)
    save_checkpoint(prefix, 3, bn_net, *_params(bn_net))
    assert load_checkpoint(prefix, 3)[0].list_auxiliary_states() == [
        "bn1_moving_mean", "bn1_moving_var"]
    _interrupted_save(prefix, 4, *_params(net))
    with pytest.raises(MXNetError, match=r"missing .*'bn1_gamma'.*auxiliary states missing"
                                         r".*'bn1_moving_mean', 'bn1_moving_var'"):
        load_checkpoint(prefix, 4)
    # The files themselves are fine: each loads on its own.
    assert set(load_params(prefix, 4)[0]) == set(_params(net)[0])

    # A parameter file with no arrays stays what MXNet makes of it: a warning.
    nd.save(params_filename(prefix, 5), {})
    with caplog.at_level(logging.WARNING):
        assert load_checkpoint(prefix, 5)[1:] == ({}, {})
    assert "holds no parameters" in caplog.text


def test_reference_checkpoints_load_and_mismatched_pairs_are_rejected(refdir, tmp_path):
    ck = refdir / "checkpoints"
    models = json.loads((ck / "index.json").read_text())["models"]
    for name, spec in models.items():
        for epoch in spec["params_files"]:
            symbol, arg, aux = load_checkpoint(str(ck / name), int(epoch))
            assert symbol.list_arguments() == spec["list_arguments"]
            assert list(aux) == spec["list_auxiliary_states"]
    architectures = {}
    for name in models:
        arg, aux = load_params(str(ck / name), 3)
        architectures[name] = sorted((k, v.shape) for k, v in {**arg, **aux}.items())
    n_rejected = 0
    for graph_of, params_of in itertools.permutations(models, 2):
        prefix = str(tmp_path / f"{graph_of}-{params_of}")
        (tmp_path / f"{graph_of}-{params_of}-symbol.json").write_bytes(
            (ck / f"{graph_of}-symbol.json").read_bytes())
        (tmp_path / f"{graph_of}-{params_of}-0003.params").write_bytes(
            (ck / f"{params_of}-0003.params").read_bytes())
        if architectures[graph_of] == architectures[params_of]:
            load_checkpoint(prefix, 3)  # the same architecture (linreg and maereg)
            continue
        with pytest.raises(MXNetError, match="checkpoint mismatch"):
            load_checkpoint(prefix, 3)
        n_rejected += 1
    assert n_rejected >= len(models) * (len(models) - 1) - 2
