"""
Exporting a pipeline with MXClassifier to ONNX
==============================================

A scikit-learn pipeline (a ``StandardScaler`` and an ``MXClassifier`` with
BatchNorm and dropout) is fitted on the breast-cancer data, exported as a
whole to an ONNX model with skl2onnx, and run by onnxruntime; the labels and
probabilities onnxruntime computes are compared with the pipeline's own.

The export needs the ``onnx`` extra (``pip install "skmx[onnx]"``: skl2onnx
and onnxruntime); without it the script fits the pipeline, says what is
missing and leaves the export out.
"""

import importlib.util
import os
import tempfile

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmx.estimators import MXClassifier

HAS_ONNX = all(importlib.util.find_spec(name) is not None
               for name in ("skl2onnx", "onnxruntime"))

# %%
# The pipeline
# ------------
# The network computes in float64 here, the type of the training data.

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
pipe = make_pipeline(StandardScaler(), MXClassifier(
    hidden_layer_sizes=(32, 16), batch_norm=True, dropout=0.2, learning_rate=0.01,
    max_epochs=20, random_state=0)).fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.4f}")

# %%
# Export to ONNX
# --------------
# :func:`skmx.onnx.to_onnx` registers skmx's converters with skl2onnx and
# converts the whole pipeline; a row of float32 input makes a float32 ONNX
# input (the graph casts it to the network's float64). ``zipmap=False`` gives
# the probabilities as one tensor instead of a list of dictionaries. The file
# goes into a temporary folder, never next to the script.

if not HAS_ONNX:
    print('skl2onnx or onnxruntime is not installed: skipping the ONNX export '
          '(pip install "skmx[onnx]")')
else:
    import skmx.onnx

    onx = skmx.onnx.to_onnx(pipe, X_train[:1].astype(np.float32),
                            options={MXClassifier: {"zipmap": False}})
    path = os.path.join(tempfile.mkdtemp(prefix="skmx-example-"), "breast_cancer.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    print("ONNX model saved to", path)
    print("outputs:", [output.name for output in onx.graph.output])

# %%
# onnxruntime against the pipeline
# --------------------------------
# The probabilities agree to rounding, and so do the labels.

if HAS_ONNX:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rows = X_test.astype(np.float32)
    label, proba = sess.run(None, {sess.get_inputs()[0].name: rows})
    difference = np.abs(proba - pipe.predict_proba(rows)).max()
    print(f"largest probability difference: {difference:.1e}")
    print("probabilities agree within 1e-5:", bool(difference <= 1e-5))
    print("labels agree:", bool(np.array_equal(label, pipe.predict(rows))))
