"""What MXNet scripts do with NDArrays: ``asnumpy()``, ``asscalar()``, ``context``, creation.

The truth for each test is MXNet 1.9.1's Python source, named in the test's docstring
(``python/mxnet/ndarray/ndarray.py``, ``python/mxnet/ndarray/utils.py``,
``python/mxnet/context.py``, ``python/mxnet/model.py``), and the checkpoints MXNet 1.9.1
wrote in ``tests/data/mxnet_reference/checkpoints``.
"""

import io
import json
import pickle
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import skmx as mx
from skmx import nd
from skmx.exceptions import MXNetError

REPO_ROOT = Path(__file__).resolve().parents[1]


def _plain(a):
    return type(a) is np.ndarray


# ----------------------------------------------------------------------------- the NDArray type


def test_array_dtype_follows_mxnet_source():
    """``ndarray.py: array()``: an NDArray keeps its dtype, anything else becomes float32.

    MXNet 1.9.1 sets ``dtype = source_array.dtype`` only for an NDArray source and
    ``mx_real_t`` (float32) otherwise, NumPy arrays of float64 or int64 included.
    """
    assert isinstance(nd.array([[1, 2], [3, 4]]), nd.NDArray)
    assert nd.array([[1, 2], [3, 4]]).dtype == np.float32
    assert nd.array(np.arange(3, dtype=np.float64)).dtype == np.float32
    assert nd.array(np.arange(3, dtype=np.int64)).dtype == np.float32
    assert nd.array(np.arange(3), dtype="int32").dtype == np.int32
    f64 = nd.array([0.5, 1.5], dtype=np.float64)
    assert nd.array(f64).dtype == np.float64
    assert nd.array(f64, dtype="float16").dtype == np.float16
    np.testing.assert_array_equal(nd.array(np.array([1.25, -2.5])), [1.25, -2.5])


def test_array_copies_and_refuses_non_numbers():
    """``ndarray.py: array()`` allocates with ``empty`` and assigns: the result never aliases.

    A source NumPy cannot turn into numbers is a ``TypeError`` in MXNet
    ('source_array must be array like object').
    """
    src = np.ones(3, dtype=np.float32)
    out = nd.array(src)
    assert not np.shares_memory(out, src)
    again = nd.array(out)
    assert not np.shares_memory(again, out)
    with pytest.raises(TypeError, match="source_array"):
        nd.array([[1, 2], [3]])
    with pytest.raises(TypeError, match="source_array"):
        nd.array(["a", "b"])
    with pytest.raises(TypeError, match="dtype"):
        nd.array([1, 2], dtype=object)


def test_array_of_sparse_input_stays_sparse():
    """``utils.py: array()`` sends csr matrices and sparse NDArrays to ``sparse.array``.

    The result keeps the sparse storage and (``sparse.py: array``) the source dtype.
    """
    csr = sp.csr_matrix(np.array([[0, 2.0], [3.0, 0]]))
    out = nd.array(csr)
    assert sp.isspmatrix_csr(out) and out.dtype == np.float64
    out.data[0] = 9
    assert csr.data[0] == 2.0
    rsp = nd.RowSparseNDArray(np.ones((1, 2), np.float32), np.array([1]), (3, 2))
    copy = nd.array(rsp)
    assert isinstance(copy, nd.RowSparseNDArray) and copy.dtype == np.float32
    np.testing.assert_array_equal(copy.asnumpy(), rsp.asnumpy())
    assert not np.shares_memory(copy.data, rsp.data)


def test_asnumpy_is_a_plain_view():
    """``ndarray.py: NDArray.asnumpy`` returns a ``numpy.ndarray`` of the same values and dtype.

    MXNet copies from the engine; skmx's arrays already live in host memory, so the
    result is a view (no copy): it is exactly ``np.ndarray`` and writes go through.
    """
    x = nd.array([[1, 2, 3], [4, 5, 6]], dtype="int32")
    y = x.asnumpy()
    assert _plain(y) and y.dtype == np.int32 and y.shape == (2, 3)
    assert np.shares_memory(x, y)
    y[0, 0] = 7
    assert x[0, 0] == 7


def test_asscalar_as_mxnet():
    """``ndarray.py: NDArray.asscalar``: its docstring's example and its size check.

    ``mx.nd.ones((1,), dtype='int32').asscalar()`` is ``1`` of type ``numpy.int32``; an
    array whose size is not 1 raises ``ValueError('The current array is not a scalar')``.
    """
    one = nd.ones((1,), dtype="int32").asscalar()
    assert one == 1 and type(one) is np.int32
    assert type(nd.array([2.5]).asscalar()) is np.float32
    assert nd.array([2.5]).asscalar() == 2.5
    assert nd.array([[4.0]]).asscalar() == 4.0
    for shape in [(2,), (0,), (2, 3)]:
        with pytest.raises(ValueError, match="^The current array is not a scalar"):
            nd.zeros(shape).asscalar()


def test_context_wait_and_waitall():
    """``ndarray.py: NDArray.context``, ``wait_to_read`` and ``waitall``.

    ``mx.nd.array([1, 2, 3, 4]).context`` is ``cpu(0)``, a ``Context``; ``wait_to_read`` and
    ``waitall`` return None once nothing is pending (skmx computes eagerly).
    """
    x = nd.array([1, 2, 3, 4])
    assert x.context == mx.cpu(0) and isinstance(x.context, mx.Context)
    assert str(x.context) == "cpu(0)"
    assert x.stype == "default"
    assert x.wait_to_read() is None
    assert nd.waitall() is None
    assert mx.nd.waitall is nd.waitall


def test_copy_astype_shape_dtype():
    """``ndarray.py: NDArray.copy`` and ``astype`` return new arrays on the same context.

    ``x.astype('int32').dtype`` is int32 (MXNet's docstring example); shape and dtype read
    as tuple and numpy dtype.
    """
    x = nd.zeros((2, 3), dtype="float32")
    y = x.astype("int32")
    assert isinstance(y, nd.NDArray) and y.dtype == np.int32
    c = x.copy()
    assert isinstance(c, nd.NDArray) and not np.shares_memory(c, x)
    c[:] = 1
    assert x.sum() == 0
    assert x.shape == (2, 3) and x.dtype == np.dtype("float32") and x.size == 6 and x.ndim == 2


def test_copyto_and_as_in_context():
    """``ndarray.py: NDArray.copyto`` and ``as_in_context``.

    ``copyto(array)`` writes into it and returns it (``z is y``); ``copyto`` onto itself warns
    ``RuntimeWarning`` and returns False; ``copyto(context)`` returns a new array; another
    type is a ``TypeError``. ``as_in_context`` returns ``self`` for the array's own context
    (``y is x``).
    """
    x = nd.ones((2, 3))
    y = nd.zeros((2, 3))
    assert x.copyto(y) is y
    np.testing.assert_array_equal(y, np.ones((2, 3)))
    plain = np.zeros((2, 3), dtype=np.float64)
    assert x.copyto(plain) is plain and plain.sum() == 6
    with pytest.warns(RuntimeWarning, match="copy an array to itself"):
        assert x.copyto(x) is False
    with pytest.raises(MXNetError, match="shape"):
        x.copyto(nd.zeros((3, 2)))
    z = x.copyto(mx.cpu())
    assert isinstance(z, nd.NDArray) and not np.shares_memory(z, x)
    with pytest.raises(TypeError, match="other"):
        x.copyto("cpu")
    assert x.as_in_context(mx.cpu()) is x
    other = x.as_in_context(mx.cpu_pinned())
    assert other is not x and not np.shares_memory(other, x)
    with pytest.raises(ValueError, match="host memory"):
        x.as_in_context(mx.gpu(0))


def test_zeros_ones_empty_defaults():
    """``ndarray.py: zeros/ones/empty`` and ``utils.py: zeros/empty``.

    dtype None means ``mx_real_t`` (float32); an int shape means ``(shape,)``; ``ctx`` is a
    Context; ``stype='row_sparse'``/``'csr'`` give sparse arrays holding no values.
    """
    for make in (nd.zeros, nd.ones, nd.empty):
        a = make((2, 3))
        assert isinstance(a, nd.NDArray) and a.dtype == np.float32 and a.shape == (2, 3)
        assert make(4).shape == (4,)
        assert make((1, 2), mx.cpu(), "float16").dtype == np.float16
        assert make((1, 2), ctx=None, dtype=np.int64).dtype == np.int64
        with pytest.raises(ValueError, match="ctx"):
            make((1, 2), mx.gpu(0))
        with pytest.raises(ValueError, match="shape"):
            make((2, -1))
    np.testing.assert_array_equal(nd.zeros((2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(nd.ones(3, dtype="int32"), [1, 1, 1])
    rsp = nd.zeros((4, 2), stype="row_sparse", dtype="float16")
    assert isinstance(rsp, nd.RowSparseNDArray) and rsp.shape == (4, 2)
    assert rsp.dtype == np.float16 and rsp.indices.size == 0
    csr = nd.zeros((1, 2), mx.cpu(), stype="csr")
    assert sp.isspmatrix_csr(csr) and csr.nnz == 0 and csr.dtype == np.float32
    with pytest.raises(MXNetError, match="stype"):
        nd.zeros((1, 2), stype="coo")


def test_tostype():
    """``ndarray.py: NDArray.tostype``: dense to ``row_sparse`` and ``csr`` (2-d only)."""
    x = nd.array([[0, 0], [1, 2], [0, 0], [3, 0]])
    assert x.tostype("default") is x
    rsp = x.tostype("row_sparse")
    np.testing.assert_array_equal(rsp.indices, [1, 3])
    np.testing.assert_array_equal(rsp.asnumpy(), x)
    csr = x.tostype("csr")
    np.testing.assert_array_equal(csr.toarray(), x)
    with pytest.raises(MXNetError, match="2-d"):
        nd.zeros((2, 2, 2)).tostype("csr")


def test_numpy_code_keeps_working():
    """An NDArray is an ``np.ndarray``: NumPy arithmetic and functions take it as is.

    Reductions to one value give NumPy scalars, as for a plain array, so ``float()``,
    ``json`` and ``isinstance(v, np.floating)`` keep working; ``np.asarray`` gives a plain
    view.
    """
    x = nd.array([[1.0, 2.0], [3.0, 4.0]])
    assert isinstance(x, np.ndarray)
    np.testing.assert_allclose(np.exp(x), np.exp([[1.0, 2.0], [3.0, 4.0]]), rtol=1e-6)
    np.testing.assert_array_equal(x * 2 + 1, [[3, 5], [7, 9]])
    np.testing.assert_array_equal(x @ x.T, [[5, 11], [11, 25]])
    for value in (x.sum(), x.mean(), x.max(), np.sum(x), np.linalg.norm(x), x[0, 1]):
        assert isinstance(value, np.floating) and not isinstance(value, np.ndarray)
    assert json.dumps(float(x.sum())) == "10.0"
    assert _plain(np.asarray(x)) and np.shares_memory(np.asarray(x), x)
    np.testing.assert_array_equal(np.concatenate([x, x]), np.vstack([x.asnumpy()] * 2))


def test_ndarray_pickles():
    """Pickling (``NDArray.__getstate__`` in MXNet) keeps the values, dtype and type."""
    x = nd.array(np.arange(6).reshape(2, 3), dtype="float64")
    y = pickle.loads(pickle.dumps(x))
    assert isinstance(y, nd.NDArray) and y.dtype == np.float64
    np.testing.assert_array_equal(y, x)
    assert y.context == mx.cpu()


# ----------------------------------------------------------------------------- NDArrays handed out


def test_load_returns_ndarray_views(tmp_path):
    """``utils.py: load`` returns NDArrays for dense records (csr/row_sparse stay sparse).

    skmx's are views into the file's buffer: ``load_frombuffer`` on a bytearray writes
    through to it.
    """
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    rsp = nd.RowSparseNDArray(np.ones((1, 3), np.float32), np.array([1]), (2, 3))
    nd.save(tmp_path / "a.params", {"w": w, "r": rsp, "c": sp.csr_matrix(w)})
    loaded = nd.load(tmp_path / "a.params")
    assert isinstance(loaded["w"], nd.NDArray)
    np.testing.assert_array_equal(loaded["w"].asnumpy(), w)
    assert isinstance(loaded["r"], nd.RowSparseNDArray) and sp.isspmatrix_csr(loaded["c"])
    buf = bytearray((tmp_path / "a.params").read_bytes())
    (view,) = [v for v in nd.load_frombuffer(buf).values() if isinstance(v, nd.NDArray)]
    view[0, 0] = 42.0
    assert nd.load_frombuffer(bytes(buf))["w"][0, 0] == 42.0
    listed = nd.load(_saved(tmp_path / "l.params", [w, w]))
    assert all(isinstance(v, nd.NDArray) for v in listed)


def _saved(path, data):
    nd.save(path, data)
    return path


def test_save_accepts_ndarrays_byte_for_byte(tmp_path):
    """``utils.py: save`` takes an NDArray, a list of them or a dict of str to them.

    An NDArray and the plain array it views write the same bytes.
    """
    plain = np.arange(12, dtype=np.float32).reshape(3, 4)
    wrapped = plain.view(nd.NDArray)
    for data, same in [({"x": wrapped}, {"x": plain}), ([wrapped, wrapped], [plain, plain]),
                       (wrapped, plain)]:
        a = _saved(tmp_path / "a.params", data).read_bytes()
        b = _saved(tmp_path / "b.params", same).read_bytes()
        assert a == b
    round_trip = nd.load(_saved(tmp_path / "c.params", nd.load(tmp_path / "a.params")))
    np.testing.assert_array_equal(round_trip[0], plain)


def _small_model(rng, num_epoch=2, **kwargs):
    data = mx.sym.Variable("data")
    net = mx.sym.FullyConnected(data, num_hidden=6, name="fc1")
    net = mx.sym.BatchNorm(net, fix_gamma=False, name="bn1")
    net = mx.sym.Activation(net, act_type="relu")
    net = mx.sym.FullyConnected(net, num_hidden=2, name="fc2")
    net = mx.sym.SoftmaxOutput(net, name="softmax")
    X = rng.standard_normal((40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    model = mx.model.FeedForward(net, num_epoch=num_epoch, learning_rate=0.1,
                                 numpy_batch_size=10, **kwargs)
    return model, X, y


def test_feedforward_params_are_ndarrays_after_fit_and_in_callbacks():
    """``model.py: FeedForward.fit`` leaves ``arg_params``/``aux_params`` as NDArray dicts.

    MXNet 1.9.1's ``_train_multi_device`` copies the executors' NDArrays into them and hands
    the same dicts to ``epoch_end_callback(epoch, symbol, arg_params, aux_params)``.
    """
    mx.random.seed(3)
    seen = []

    def epoch_end(epoch, symbol, arg_params, aux_params):
        seen.append(all(isinstance(v, nd.NDArray) for v in
                        list(arg_params.values()) + list(aux_params.values())))

    model, X, y = _small_model(np.random.default_rng(0))
    model.fit(X, y, epoch_end_callback=epoch_end)
    assert seen == [True, True]
    assert set(model.aux_params) == {"bn1_moving_mean", "bn1_moving_var"}
    for value in list(model.arg_params.values()) + list(model.aux_params.values()):
        assert isinstance(value, nd.NDArray) and value.context == mx.cpu()
        assert _plain(value.asnumpy()) and value.dtype == np.float32
    weight = model.arg_params["fc1_weight"]
    assert weight.shape == (6, 5)
    np.testing.assert_array_equal(weight.asnumpy(), weight)


def test_feedforward_save_load_and_load_checkpoint_give_ndarrays(tmp_path):
    """``model.py: FeedForward.load`` and ``load_checkpoint`` read the params with ``nd.load``.

    Their values are NDArrays, and a reloaded model predicts what the saved one did.
    """
    mx.random.seed(4)
    model, X, y = _small_model(np.random.default_rng(1))
    model.fit(X, y)
    prefix = str(tmp_path / "net")
    model.save(prefix, 2)
    symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, 2)
    assert all(isinstance(v, nd.NDArray) for v in arg_params.values())
    assert all(isinstance(v, nd.NDArray) for v in aux_params.values())
    for name, value in model.arg_params.items():
        np.testing.assert_array_equal(arg_params[name], value)
    loaded = mx.model.FeedForward.load(prefix, 2)
    assert all(isinstance(v, nd.NDArray) for v in loaded.arg_params.values())
    assert all(isinstance(v, nd.NDArray) for v in loaded.aux_params.values())
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert _plain(loaded.predict(X))


def test_mxnet_checkpoint_loads_as_ndarrays_and_predicts(refdir):
    """A checkpoint MXNet 1.9.1 wrote (``mlp_bn``, with BatchNorm auxiliary states).

    ``load_checkpoint`` gives NDArrays, and ``FeedForward.load(prefix, 3).predict`` still
    matches the outputs MXNet recorded.
    """
    ck = refdir / "checkpoints"
    symbol, arg_params, aux_params = mx.model.load_checkpoint(str(ck / "mlp_bn"), 3)
    assert sorted(aux_params) == sorted(symbol.list_auxiliary_states())
    assert all(isinstance(v, nd.NDArray) for v in arg_params.values())
    assert all(isinstance(v, nd.NDArray) for v in aux_params.values())
    assert aux_params["bn1_moving_var"].asnumpy().min() > 0
    model = mx.model.FeedForward.load(str(ck / "mlp_bn"), 3)
    np.testing.assert_allclose(model.predict(np.load(ck / "mlp_bn-inputs.npy")),
                               np.load(ck / "mlp_bn-outputs.npy"), rtol=1e-5, atol=1e-6)


def test_pickled_feedforward_and_estimator_round_trip(refdir):
    """Pickling a FeedForward (and an estimator built from the same checkpoint) keeps it whole.

    The NDArray values come back as NDArrays, and both models predict MXNet's recorded
    outputs after the round trip.
    """
    ck = refdir / "checkpoints"
    X = np.load(ck / "mlp_bn-inputs.npy")
    expected = np.load(ck / "mlp_bn-outputs.npy")
    model = mx.model.FeedForward.load(str(ck / "mlp_bn"), 3)
    model.predict(X)
    back = pickle.loads(pickle.dumps(model))
    assert all(isinstance(v, nd.NDArray) for v in back.arg_params.values())
    np.testing.assert_allclose(back.predict(X), expected, rtol=1e-5, atol=1e-6)
    joblib = pytest.importorskip("joblib")
    est = mx.MXClassifier.from_checkpoint(str(ck / "mlp_bn"), 3)
    buf = io.BytesIO()
    joblib.dump(est, buf)
    buf.seek(0)
    est_back = joblib.load(buf)
    np.testing.assert_allclose(est_back.predict_proba(X), expected, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- devices


def test_num_gpus_without_cupy(monkeypatch):
    """``context.py: num_gpus`` asks CUDA for its device count; MXNet's CPU build answers 0.

    Without CuPy (an import that fails) skmx answers 0 too.
    """
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert mx.context.num_gpus() == 0


def _fake_cupy(count):
    class CUDARuntimeError(RuntimeError):
        pass

    def get_device_count():
        if isinstance(count, Exception):
            raise CUDARuntimeError(str(count))
        return count

    runtime = types.SimpleNamespace(getDeviceCount=get_device_count,
                                    CUDARuntimeError=CUDARuntimeError)
    module = types.ModuleType("cupy")
    module.cuda = types.SimpleNamespace(runtime=runtime)
    return module


def test_num_gpus_asks_cupy(monkeypatch):
    """``context.py: num_gpus`` returns the runtime's device count (``MXGetGPUCount``).

    skmx asks CuPy's runtime; a runtime error (no driver, no device) counts as 0 devices.
    """
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(3))
    assert mx.context.num_gpus() == 3
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(RuntimeError("no CUDA driver")))
    assert mx.context.num_gpus() == 0


def test_cpu_pinned_context():
    """``context.py: cpu_pinned`` is ``Context('cpu_pinned', device_id)``."""
    ctx = mx.cpu_pinned(1)
    assert ctx == mx.Context("cpu_pinned", 1) and str(ctx) == "cpu_pinned(1)"
    assert ctx.device_typeid == 3


# ----------------------------------------------------------------------------- the package


@pytest.mark.parametrize("name", ["mod", "module", "gluon", "autograd"])
def test_unsupported_apis_point_to_the_migration_guide(name):
    """``mx.mod``, ``mx.module``, ``mx.gluon``, ``mx.autograd`` are MXNet modules skmx lacks.

    Reading one raises ``AttributeError`` (so ``hasattr`` is False and ``getattr`` with a
    default works) whose message names the migration guide's file and the API skmx has.
    """
    guide = REPO_ROOT / "docs" / "mxnet_migration.rst"
    assert guide.is_file()
    title = guide.read_text().splitlines()[0]
    with pytest.raises(AttributeError) as info:
        getattr(mx, name)
    message = str(info.value)
    assert "docs/mxnet_migration.rst" in message and title in message
    assert "symbol/FeedForward" in message and f"mx.{name}" in message
    assert info.value.name == name
    assert not hasattr(mx, name)
    assert getattr(mx, name, None) is None
    assert name not in dir(mx)


def test_plain_missing_names_still_raise_attribute_error():
    """A name skmx never had gets Python's usual message, without the guide."""
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'$"):
        mx.no_such_thing


def test_viz_is_a_lazy_submodule():
    """``mx.viz`` is imported from ``skmx/viz.py`` on first use, never by ``import skmx``.

    Nor is CuPy. Run in a fresh interpreter.
    """
    code = textwrap.dedent("""
        import sys
        import skmx
        assert 'skmx.viz' not in sys.modules, 'import skmx imported skmx.viz'
        assert 'cupy' not in sys.modules, 'import skmx imported cupy'
        assert 'viz' in dir(skmx) and 'skmx.viz' not in sys.modules
        assert callable(skmx.viz.print_summary)
        assert sys.modules['skmx.viz'] is skmx.viz
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)
