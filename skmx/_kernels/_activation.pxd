# Scalar activation helpers shared by _activation.pyx and _dense.pyx (fused into
# the bias pass of FullyConnected). Codes match ACT_* in _activation.pyx.

from cython cimport floating
from libc.math cimport exp, log1p, tanh, fabs

cdef enum:
    ACT_IDENTITY_C = 0
    ACT_RELU_C = 1
    ACT_SIGMOID_C = 2
    ACT_TANH_C = 3
    ACT_SOFTRELU_C = 4
    ACT_SOFTSIGN_C = 5

# Elementwise loops switch to prange above this many elements.
cdef enum:
    PAR_MIN_ELEMENTS = 32768


cdef inline floating act_value(floating v, int act) noexcept nogil:
    """Return act(v)."""
    cdef double d = v, e
    if act == ACT_RELU_C:
        return v if v > 0 else <floating> 0
    if act == ACT_SIGMOID_C:
        if d >= 0:
            return <floating> (1.0 / (1.0 + exp(-d)))
        e = exp(d)
        return <floating> (e / (1.0 + e))
    if act == ACT_TANH_C:
        return <floating> tanh(d)
    if act == ACT_SOFTRELU_C:
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|) never overflows.
        return <floating> ((d if d > 0 else 0.0) + log1p(exp(-fabs(d))))
    if act == ACT_SOFTSIGN_C:
        return <floating> (d / (1.0 + fabs(d)))
    return v


cdef inline floating act_grad_from_output(floating y, int act) noexcept nogil:
    """Return act'(x) expressed through y = act(x)."""
    cdef double d = y
    if act == ACT_RELU_C:
        return <floating> 1 if y > 0 else <floating> 0
    if act == ACT_SIGMOID_C:
        return <floating> (d * (1.0 - d))
    if act == ACT_TANH_C:
        return <floating> (1.0 - d * d)
    if act == ACT_SOFTRELU_C:
        return <floating> (1.0 - exp(-d))
    if act == ACT_SOFTSIGN_C:
        return <floating> ((1.0 - fabs(d)) * (1.0 - fabs(d)))
    return <floating> 1


cdef inline void bias_act_rows(floating* out, const floating* b, Py_ssize_t rows, Py_ssize_t ld,
                               Py_ssize_t width, int act) noexcept nogil:
    """out[r, :width] = act(out[r, :width] + b) for ``rows`` rows ``ld`` apart (b may be NULL).

    The activation switch is hoisted out of the inner loops so ReLU and the
    identity vectorise.
    """
    cdef Py_ssize_t i, j
    cdef floating* row
    cdef floating v
    for i in range(rows):
        row = out + i * ld
        if act == ACT_RELU_C:
            if b != NULL:
                for j in range(width):
                    v = row[j] + b[j]
                    row[j] = v if v > 0 else 0
            else:
                for j in range(width):
                    v = row[j]
                    row[j] = v if v > 0 else 0
        elif act == ACT_IDENTITY_C:
            if b != NULL:
                for j in range(width):
                    row[j] = row[j] + b[j]
        elif b != NULL:
            for j in range(width):
                row[j] = act_value(row[j] + b[j], act)
        else:
            for j in range(width):
                row[j] = act_value(row[j], act)
