"""ONNX export: onnxruntime, running the exported graph, predicts what the skmx model predicts.

Every comparison runs the ONNX model in onnxruntime and checks its outputs against the
fitted skmx estimator's own ``predict``/``predict_proba`` on the same rows. The tests
that need skl2onnx and onnxruntime skip without them (``pip install "skmx[onnx]"``).
"""

import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skmx.onnx
from skmx import symbol as sym
from skmx.estimators import MXClassifier, MXRegressor

REPO_ROOT = Path(__file__).resolve().parents[1]
ATOL = 1e-5


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("skl2onnx")
    return pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _quiet_convergence():
    # A few epochs never converge; the ConvergenceWarning says nothing here.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*hasn't converged.*")
        yield


def _fast(**params):
    params = {"max_epochs": 3, "mini_batch_size": 16, "learning_rate": 0.01,
              "random_state": 0, **params}
    return params


def _run(ort, model, X, **kwargs):
    """Export ``model`` for rows like ``X``, run it on ``X``; return the outputs by name."""
    onx = skmx.onnx.to_onnx(model, X[:1], **kwargs)
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: X})))


def _check_classifier(ort, model, X, **kwargs):
    options = {"zipmap": False}
    out = _run(ort, model, X, options={id(_final(model)): options}, **kwargs)
    assert list(out) == ["label", "probabilities"]
    assert out["probabilities"].dtype == X.dtype
    np.testing.assert_allclose(out["probabilities"], model.predict_proba(X), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(out["label"], model.predict(X))
    return out


def _check_regressor(ort, model, X, n_outputs=1):
    out = _run(ort, model, X)
    assert list(out) == ["variable"]
    assert out["variable"].dtype == X.dtype
    assert out["variable"].shape == (len(X), n_outputs)
    expected = model.predict(X).reshape(len(X), -1)
    np.testing.assert_allclose(out["variable"], expected, rtol=1e-5, atol=ATOL)
    return out


def _final(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _cancer(n=200):
    X, y = load_breast_cancer(return_X_y=True)
    return X[:n], y[:n]


def _regression_data(n=120, n_outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    W = rng.normal(size=(5, n_outputs))
    y = np.tanh(X @ W) + 0.05 * rng.normal(size=(n, n_outputs))
    return X, (y[:, 0] if n_outputs == 1 else y)


def _digits_images(n=60):
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


# -- importing and registering ----------------------------------------------------------------
def test_importing_skmx_and_skmx_onnx_leaves_skl2onnx_unimported():
    code = ("import sys, skmx, skmx.onnx\n"
            "assert 'skl2onnx' not in sys.modules, 'skl2onnx imported'\n"
            "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported'\n"
            "assert callable(skmx.onnx.register_converters)\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_register_without_skl2onnx_names_the_extra():
    code = ("import sys\n"
            "sys.modules['skl2onnx'] = None  # as if it were not installed\n"
            "import skmx.onnx\n"
            "try:\n"
            "    skmx.onnx.register_converters()\n"
            "except ImportError as exc:\n"
            "    assert 'skmx[onnx]' in str(exc), exc\n"
            "else:\n"
            "    raise AssertionError('no ImportError')\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_register_converters_makes_skl2onnx_to_onnx_convert_a_pipeline(ort):
    skl2onnx = pytest.importorskip("skl2onnx")
    X, y = _cancer()
    X = X.astype(np.float32)
    pipe = make_pipeline(StandardScaler(), MXClassifier(**_fast(hidden_layer_sizes=(8,))))
    pipe.fit(X, y)
    skmx.onnx.register_converters()
    skmx.onnx.register_converters()  # a second call changes nothing
    onx = skl2onnx.to_onnx(pipe, X[:1], options={id(pipe.steps[-1][1]): {"zipmap": False}})
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = sess.run(None, {sess.get_inputs()[0].name: X})
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=ATOL)
    np.testing.assert_array_equal(label, pipe.predict(X))


# -- classifiers -------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_binary_classifier_in_a_pipeline(ort, fit_dtype, input_dtype):
    X, y = _cancer()
    pipe = make_pipeline(StandardScaler(), MXClassifier(**_fast(hidden_layer_sizes=(16, 8))))
    pipe.fit(X.astype(fit_dtype), y)
    assert len(pipe.classes_) == 2
    out = _check_classifier(ort, pipe, X.astype(input_dtype))
    assert out["probabilities"].shape == (len(X), 2)
    assert out["label"].dtype == np.int64


def test_multiclass_string_labels_with_zipmap(ort):
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(StandardScaler(), MXClassifier(**_fast(hidden_layer_sizes=(8,))))
    pipe.fit(X, names)
    X32 = X.astype(np.float32)
    out = _run(ort, pipe, X32)
    assert list(out) == ["output_label", "output_probability"]
    np.testing.assert_array_equal(out["output_label"], pipe.predict(X32))
    proba = pipe.predict_proba(X32)
    zipped = np.array([[row[c] for c in pipe.classes_] for row in out["output_probability"]])
    np.testing.assert_allclose(zipped, proba, rtol=0, atol=ATOL)
    columns = _run(ort, pipe, X32, options={id(pipe.steps[-1][1]): {"zipmap": "columns"}})
    for j, c in enumerate(pipe.classes_):
        np.testing.assert_allclose(columns[f"s{c}"], proba[:, j], rtol=0, atol=ATOL)


def test_multiclass_integer_labels_and_nocl(ort):
    X, y = load_iris(return_X_y=True)
    y = y * 10 + 3  # labels that differ from the column indices
    clf = MXClassifier(**_fast(hidden_layer_sizes=(8,))).fit(X, y)
    X64 = X.astype(np.float64)
    out = _check_classifier(ort, clf, X64)
    assert set(np.unique(out["label"])) <= {3, 13, 23}
    indices = _run(ort, clf, X64, options={id(clf): {"zipmap": False, "nocl": True}})
    np.testing.assert_array_equal(indices["label"], np.argmax(clf.predict_proba(X64), axis=1))


def test_float_class_labels_become_int64_and_fractional_ones_are_refused(ort, tmp_path):
    X, y = _cancer(100)
    clf = MXClassifier(**_fast(hidden_layer_sizes=(4,))).fit(X, y.astype(float))
    out = _check_classifier(ort, clf, X.astype(np.float32))
    assert out["label"].dtype == np.int64
    # Only a checkpoint's classes can be fractional numbers (fit takes them as continuous).
    clf.save_checkpoint(tmp_path / "m", 1)
    loaded = MXClassifier.from_checkpoint(tmp_path / "m", 1, classes=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"classes_ must hold integers.*\[0\.5, 1\.5\]"):
        skmx.onnx.to_onnx(loaded, X[:1].astype(np.float32),
                          options={id(loaded): {"zipmap": False}})
    # Their indices export.
    out = _run(ort, loaded, X[:5].astype(np.float32),
               options={id(loaded): {"zipmap": False, "nocl": True}})
    np.testing.assert_array_equal(out["label"], np.argmax(loaded.predict_proba(X[:5]), axis=1))


def test_multilabel_classifier(ort):
    X, _ = _cancer(120)
    rng = np.random.default_rng(0)
    Y = (X[:, :3] > np.median(X[:, :3], axis=0)).astype(int) ^ (rng.random((120, 3)) < 0.1)
    pipe = make_pipeline(StandardScaler(), MXClassifier(**_fast(hidden_layer_sizes=(8,))))
    pipe.fit(X, Y)
    out = _check_classifier(ort, pipe, X.astype(np.float32))
    assert out["label"].shape == (120, 3)


def test_output_class_labels_option(ort):
    X, y = load_iris(return_X_y=True)
    clf = MXClassifier(**_fast(hidden_layer_sizes=(8,))).fit(X, y + 1)
    out = _run(ort, clf, X.astype(np.float32),
               options={id(clf): {"zipmap": False, "output_class_labels": True}})
    np.testing.assert_array_equal(out["class_labels"], clf.classes_)


# -- regressors --------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["squared_error", "absolute_error"])
def test_single_output_regressor_in_a_pipeline(ort, fit_dtype, loss):
    X, y = _regression_data()
    pipe = make_pipeline(StandardScaler(), MXRegressor(**_fast(hidden_layer_sizes=(16,),
                                                               loss=loss)))
    pipe.fit(X.astype(fit_dtype), y)
    assert pipe.predict(X).ndim == 1
    for dtype in (np.float32, np.float64):
        _check_regressor(ort, pipe, X.astype(dtype))


def test_multi_output_regressor(ort):
    X, Y = _regression_data(n_outputs=3)
    reg = MXRegressor(**_fast(hidden_layer_sizes=(16,), activation="tanh")).fit(X, Y)
    _check_regressor(ort, reg, X.astype(np.float32), n_outputs=3)
    # A 2-D y of one column stays 2-D, as predict gives it.
    reg = MXRegressor(**_fast(hidden_layer_sizes=(4,))).fit(X, Y[:, :1])
    _check_regressor(ort, reg, X, n_outputs=1)


# -- layers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "softrelu", "softsign",
                                        "identity"])
def test_activations(ort, fit_dtype, activation):
    X, y = _regression_data(60)
    reg = MXRegressor(**_fast(hidden_layer_sizes=(12, 6), activation=activation))
    reg.fit(X.astype(fit_dtype) * 3, y)  # inputs wide enough to reach the saturated parts
    _check_regressor(ort, reg, X.astype(np.float32) * 3)


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dropout_type", ["standard", "inverted"])
def test_batch_norm_and_dropout(ort, fit_dtype, dropout_type):
    X, y = load_iris(return_X_y=True)
    clf = MXClassifier(**_fast(hidden_layer_sizes=(16, 8), batch_norm=True, dropout=0.4,
                               dropout_input=0.2, dropout_type=dropout_type, max_epochs=5))
    pipe = make_pipeline(StandardScaler(), clf).fit(X.astype(fit_dtype), y)
    # Trained moving statistics, not the initial 0 and 1.
    assert not np.allclose(clf.aux_params_["bn1_moving_mean"], 0)
    _check_classifier(ort, pipe, X.astype(np.float32))
    reg = MXRegressor(**_fast(hidden_layer_sizes=(8,), batch_norm=True, dropout=0.5,
                              dropout_type=dropout_type))
    Xr, yr = _regression_data(60)
    reg.fit(Xr.astype(fit_dtype), yr)
    _check_regressor(ort, reg, Xr.astype(np.float32))


def test_dropout_of_a_checkpoint_is_inverted(ort, tmp_path):
    # A standard-dropout model is written as its inverted equivalent; both export to ONNX
    # graphs that predict the same.
    X, y = load_iris(return_X_y=True)
    clf = MXClassifier(**_fast(hidden_layer_sizes=(8,), dropout=0.5)).fit(X, y)
    clf.save_checkpoint(tmp_path / "m", 1)
    loaded = MXClassifier.from_checkpoint(tmp_path / "m", 1)
    X32 = X.astype(np.float32)
    out = _check_classifier(ort, loaded, X32)
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X32), rtol=0, atol=ATOL)


def _custom_layers():
    data = sym.Variable("data")
    a = sym.FullyConnected(data, num_hidden=6, no_bias=True, name="nobias")
    a = sym.LeakyReLU(a, act_type="leaky", slope=0.1, name="leaky")
    b = sym.FullyConnected(data, num_hidden=6, name="fcb")
    b = sym.LeakyReLU(b, act_type="elu", slope=0.7, name="elu")
    c = sym.FullyConnected(data, num_hidden=6, name="fcc")
    c = sym.LeakyReLU(c, act_type="prelu", name="prelu")
    c = sym.BatchNorm(c, fix_gamma=True, eps=1e-4, name="bnfix")
    net = sym.Concat(a, b, c, num_args=3, dim=1, name="concat")
    net = sym.BlockGrad(net, name="block")
    net = sym.Reshape(net, shape=(0, 3, 6), name="reshape")
    net = sym.BatchNorm(net, axis=-1, fix_gamma=False, name="bnlast")
    net = sym.Activation(net, act_type="softsign", name="ss")
    net = sym.Flatten(net, name="flat")
    net = sym.FullyConnected(net, num_hidden=5, flatten=False, name="lastaxis")
    return sym.FullyConnected(net, num_hidden=3, name="out")


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_symbol_layers(ort, fit_dtype):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MXClassifier(**_fast(symbol=_custom_layers(), max_epochs=5))
    clf.fit(X.astype(fit_dtype), y)
    assert not np.allclose(clf.arg_params_["prelu_gamma"], 0.25)  # trained
    _check_classifier(ort, clf, X.astype(np.float32))
    _check_classifier(ort, clf, X.astype(np.float64))


def _tensor_ops_net():
    """Symbol arithmetic and the tensor operators, as MXNet scripts write them."""
    data = sym.Variable("data")
    h = sym.relu(sym.FullyConnected(data, num_hidden=6, name="fc1"))
    shortcut = sym.FullyConnected(data, num_hidden=6, name="proj")
    h = sym.tanh(sym.FullyConnected(h, num_hidden=6, name="fc2")) + shortcut  # a residual
    h = (2 * h - 0.5) / 3 + sym.sigmoid(h) * h - sym.softsign(h)
    h = sym.broadcast_mul(h, sym.FullyConnected(data, num_hidden=1, name="gate"))
    h = sym.exp(sym.negative(sym.square(h)) * 0.1) + sym.sqrt(sym.abs(h) + 1) + (1 / (2 + h * h))
    h = sym.log(sym.softmax(h, axis=1, temperature=2.0) + 1) + sym.log_softmax(h)
    h = h ** 2 + 0.5 ** h + sym.SoftmaxActivation(h)
    h = sym.Cast(h, dtype="float32")  # rounds a float64 network to float32 values
    return sym.FullyConnected(h, num_hidden=3, name="out")


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_tensor_operators_export(ort, fit_dtype):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = MXClassifier(**_fast(symbol=_tensor_ops_net(), max_epochs=3))
    clf.fit(X.astype(fit_dtype), y)
    _check_classifier(ort, clf, X.astype(np.float32))
    _check_classifier(ort, clf, X.astype(np.float64))


def test_embedding_exports_as_a_clipped_gather(ort):
    rng = np.random.default_rng(0)
    X = rng.integers(-2, 7, size=(80, 3)).astype(np.float32)
    y = (X.sum(axis=1) > 6).astype(int)
    net = sym.Embedding(sym.Variable("data"), input_dim=5, output_dim=4, name="emb")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=2, name="out")
    clf = MXClassifier(**_fast(symbol=net, max_epochs=2)).fit(X, y)
    _check_classifier(ort, clf, X)


def _lenet():
    net = sym.Convolution(sym.Variable("data"), kernel=(3, 3), num_filter=4, pad=(1, 1),
                          name="conv1")
    net = sym.BatchNorm(net, fix_gamma=False, name="bn1")
    net = sym.Activation(net, act_type="relu", name="relu1")
    net = sym.Pooling(net, kernel=(2, 2), stride=(2, 2), pool_type="max", name="pool1")
    net = sym.Convolution(net, kernel=(2, 2), num_filter=6, num_group=2, dilate=(1, 1),
                          name="conv2")
    net = sym.Activation(net, act_type="tanh", name="tanh2")
    net = sym.Pooling(net, kernel=(2, 2), stride=(1, 1), pool_type="avg", name="pool2")
    net = sym.Dropout(net, p=0.25, name="drop")
    net = sym.Flatten(net, name="flat")
    return sym.FullyConnected(net, num_hidden=10, name="fc")


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_conv_net_in_a_pipeline(ort, fit_dtype):
    X, y = _digits_images(120)
    pipe = make_pipeline(StandardScaler(), MXClassifier(**_fast(symbol=_lenet(),
                                                                input_shape=(1, 8, 8))))
    pipe.fit(X.astype(fit_dtype), y)
    _check_classifier(ort, pipe, X.astype(np.float32))


def test_softmax_over_a_whole_conv_output(ort):
    # No Flatten before the head: MXNet's SoftmaxOutput normalizes all values of a row.
    X, y = _digits_images(60)
    net = sym.Convolution(sym.Variable("data"), kernel=(8, 8), num_filter=10, name="conv")
    clf = MXClassifier(**_fast(symbol=net, input_shape=(1, 8, 8))).fit(X, y)
    X32 = X.astype(np.float32)
    assert clf.predict_proba(X32).shape == (60, 10, 1, 1)
    out = _run(ort, clf, X32, options={id(clf): {"zipmap": False}})
    np.testing.assert_allclose(out["probabilities"], clf.predict_proba(X32).reshape(60, 10),
                               rtol=0, atol=ATOL)
    np.testing.assert_array_equal(out["label"], clf.predict(X32).ravel())


_POOLS = {
    "max-valid": dict(pool_type="max", kernel=(2, 2), stride=(2, 2)),
    "max-full": dict(pool_type="max", kernel=(2, 2), stride=(2, 2),
                     pooling_convention="full"),
    "max-full-pad": dict(pool_type="max", kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                         pooling_convention="full"),
    "avg-pad": dict(pool_type="avg", kernel=(3, 3), stride=(2, 2), pad=(1, 1)),
    "avg-pad-exclude": dict(pool_type="avg", kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                            count_include_pad=False),
    "avg-full": dict(pool_type="avg", kernel=(2, 2), stride=(2, 2),
                     pooling_convention="full"),
    "avg-full-pad-exclude": dict(pool_type="avg", kernel=(2, 2), stride=(2, 2), pad=(1, 1),
                                 pooling_convention="full", count_include_pad=False),
    "sum": dict(pool_type="sum", kernel=(2, 3), stride=(1, 2), pad=(1, 0)),
    "sum-full": dict(pool_type="sum", kernel=(2, 2), stride=(2, 2), pooling_convention="full"),
    "global-max": dict(pool_type="max", global_pool=True),
    "global-avg": dict(pool_type="avg", global_pool=True),
    "global-sum": dict(pool_type="sum", global_pool=True),
}


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", sorted(_POOLS))
def test_pooling(ort, fit_dtype, case):
    # 7x7 images: a 2x2 window with stride 2 leaves a row and a column over, which the
    # 'full' convention pools in a window that reaches past the input.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 2 * 7 * 7))
    y = rng.normal(size=40)
    net = sym.Pooling(sym.Variable("data"), name="pool", **_POOLS[case])
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=1, name="out")
    reg = MXRegressor(**_fast(symbol=net, input_shape=(2, 7, 7), max_epochs=1))
    reg.fit(X.astype(fit_dtype), y)
    _check_regressor(ort, reg, X.astype(np.float32))


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
def test_one_dimensional_conv_and_pooling(ort, fit_dtype):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3 * 9))
    y = rng.normal(size=40)
    net = sym.Convolution(sym.Variable("data"), kernel=(3,), num_filter=4, stride=(2,),
                          pad=(1,), dilate=(2,), no_bias=True, name="conv")
    net = sym.Pooling(net, kernel=(2,), stride=(2,), pool_type="avg",
                      pooling_convention="full", name="pool")
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=1, name="out")
    reg = MXRegressor(**_fast(symbol=net, input_shape=(3, 9), max_epochs=1))
    reg.fit(X.astype(fit_dtype), y)
    _check_regressor(ort, reg, X.astype(np.float32))


# -- what cannot be exported -------------------------------------------------------------------
def _fitted_with(net, input_shape=None, n_features=4):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, n_features))
    return MXRegressor(**_fast(symbol=net, input_shape=input_shape, max_epochs=1)).fit(
        X, rng.normal(size=30)), X


def test_unsupported_operator_is_named(ort, monkeypatch):
    data = sym.Variable("data")
    net = sym.Concat(sym.FullyConnected(data, num_hidden=2, name="a"),
                     sym.FullyConnected(data, num_hidden=2, name="b"), num_args=2,
                     name="joined")
    reg, X = _fitted_with(sym.FullyConnected(net, num_hidden=1, name="out"))
    monkeypatch.setattr(skmx.onnx, "SUPPORTED_OPS",
                        tuple(op for op in skmx.onnx.SUPPORTED_OPS if op != "Concat"))
    with pytest.raises(ValueError, match="node 'joined'.*operator Concat is not supported"):
        skmx.onnx.to_onnx(reg, X[:1].astype(np.float32))


@pytest.mark.parametrize("net, input_shape, n_features, message", [
    (sym.Dropout(sym.Variable("data"), p=0.5, mode="always", name="mc"), None, 4,
     r"node 'mc' \(Dropout\).*mode='always'"),
    (sym.Reshape(sym.Variable("data"), shape=(0, 2, 2), reverse=True, name="rs"), None, 4,
     r"node 'rs' \(Reshape\).*reverse=True"),
    (sym.Pooling(sym.Variable("data"), kernel=(1, 1), stride=(3, 3), name="gap",
                 pooling_convention="full"), (1, 8, 8), 64,
     r"node 'gap' \(Pooling\).*starts in the right padding"),
])
def test_settings_without_an_onnx_translation_are_named(ort, net, input_shape, n_features,
                                                        message):
    net = sym.FullyConnected(sym.Flatten(net), num_hidden=1, name="out")
    reg, X = _fitted_with(net, input_shape, n_features)
    with pytest.raises(ValueError, match=message):
        skmx.onnx.to_onnx(reg, X[:1].astype(np.float32))


def test_wrong_number_of_columns_and_low_opset_are_refused(ort):
    X, y = _regression_data(40)
    reg = MXRegressor(**_fast(hidden_layer_sizes=(4,))).fit(X, y)
    with pytest.raises(ValueError, match=r"has 3 columns.*n_features_in_=5"):
        skmx.onnx.to_onnx(reg, X[:1, :3].astype(np.float32))
    with pytest.raises(ValueError, match=r"target_opset >= 13"):
        skmx.onnx.to_onnx(reg, X[:1].astype(np.float32), target_opset=12)


# -- packaging ---------------------------------------------------------------------------------
def _ci_onnx_requirements():
    text = (REPO_ROOT / ".ci" / "run").read_text()
    line = re.search(r"^ONNX_REQUIREMENTS=\((.+)\)$", text, re.MULTILINE).group(1)
    return re.findall(r'"([^"]+)"', line)


def test_ci_installs_the_onnx_extra_before_the_tests():
    tomllib = pytest.importorskip("tomllib")
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["onnx"]
    assert _ci_onnx_requirements() == extra
    names = {re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower() for req in extra}
    assert names == {"skl2onnx", "onnxruntime"}
    lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines()]
    install = next(i for i, line in enumerate(lines) if '"${ONNX_REQUIREMENTS[@]}"' in line)
    assert lines.index("make build") < install < lines.index("make test")
