/* Lua Torch's bicubic `image.scale`, compiled: `cubic_rows` is one pass of image.c's
 * `scaleCubic_rowcol` and `cubicInterpolate`, expression for expression, so that every float32
 * and double rounding is Torch's; `to_bytes` rounds a result to bytes for the fast pipeline.
 * evaluate/transforms.py plans each pass (which source interval and fraction each output uses,
 * which rows are copied) and calls these; without this module it does the same arithmetic with
 * torch ops, bit for bit, about four times slower.
 *
 * Must be compiled without floating-point contraction (-ffp-contract=off, pyproject.toml): a
 * fused multiply-add rounds once where Torch's C rounded twice.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Torch's bits need every float32 operation rounded to float32 (SSE, NEON, ...); x87's excess
 * precision would round differently. Fail the (optional) build there: torch ops take over. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "float expressions are evaluated in higher precision here (FLT_EVAL_METHOD != 0)"
#endif

#define BLOCK 16 /* output rows per block of a strided destination */

/* The hot loops are compiled a second time for AVX2, which the loader picks on machines that
 * have it (GNU ifunc): AVX2 without FMA, so the same operations on more lanes, the same bits. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOT_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define HOT_LOOP
#endif

/* Torch's cubicInterpolate on float (`real`): float32 steps, then `0.5 * x` (a C double) makes
 * the last product and sum double, rounded to float on return. */
static inline float cubic(float p0, float p1, float p2, float p3, float x)
{
    float a1 = p2 - p0;
    float a2 = 2 * p0 - 5 * p1 + 4 * p2 - p3;
    float a3 = 3 * (p1 - p2) + p3 - p0;
    return (float)(p1 + 0.5 * x * (a1 + x * (a2 + x * a3)));
}

/* Output row r from source rows index[r]-1 .. index[r]+2 (global numbers; the buffer holds rows
 * from `offset`). At the image's first and last interval the missing neighbour is extrapolated
 * linearly, as scaleCubic_rowcol does. */
HOT_LOOP static void interpolate_row(const float *src, Py_ssize_t width, int64_t offset,
                                     int64_t n_src, int64_t index, float x, float *out)
{
    const float *r1 = src + (index - offset) * width;
    const float *r2 = r1 + width;
    if (index > 0 && index < n_src - 2) {
        const float *r0 = r1 - width, *r3 = r2 + width;
        for (Py_ssize_t k = 0; k < width; k++)
            out[k] = cubic(r0[k], r1[k], r2[k], r3[k], x);
        return;
    }
    for (Py_ssize_t k = 0; k < width; k++) {
        float p1 = r1[k], p2 = r2[k];
        float p0 = index > 0 ? r1[k - width] : 2 * p1 - p2;
        float p3 = index < n_src - 2 ? r2[k + width] : 2 * p2 - p1;
        out[k] = cubic(p0, p1, p2, p3, x);
    }
}

/* Rows of `block` (rows x width, groups of `group` floats) to out[r*dst_row + j*dst_group + c].
 * Inlined with group 1 and 3 as constants, where it is fastest. */
static inline void scatter(const float *block, Py_ssize_t rows, Py_ssize_t width,
                           Py_ssize_t group, float *out, Py_ssize_t dst_row, Py_ssize_t dst_group)
{
    for (Py_ssize_t j = 0; j < width / group; j++)
        for (Py_ssize_t r = 0; r < rows; r++)
            for (Py_ssize_t c = 0; c < group; c++)
                out[r * dst_row + j * dst_group + c] = block[r * width + j * group + c];
}

/* Acquire `obj`'s buffer, C-contiguous and of one item type: 'f' float32, 'q' int64 or 'B'
 * uint8 (checked by format, not only by size, so an int32 array is not read as float32). */
static int get_buffer(PyObject *obj, Py_buffer *buf, char kind, int writable,
                      const char *function, const char *name)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, buf, flags) < 0)
        return -1;
    const char *format = buf->format ? buf->format : "B";
    const char *type = format[0] == '<' || format[0] == '=' || format[0] == '@' ? format + 1
                                                                               : format;
    int ok;
    if (kind == 'f')
        ok = buf->itemsize == 4 && strcmp(type, "f") == 0;
    else if (kind == 'q') /* int64 is 'l' where long has 64 bits, 'q' elsewhere */
        ok = buf->itemsize == 8 && (strcmp(type, "q") == 0 || strcmp(type, "l") == 0);
    else
        ok = buf->itemsize == 1 && strcmp(type, "B") == 0;
    if (!ok) {
        const char *want = kind == 'f' ? "float32" : kind == 'q' ? "int64" : "uint8";
        PyErr_Format(PyExc_ValueError, "%s: %s must hold %s items, not format '%s'", function,
                     name, want, format);
        PyBuffer_Release(buf);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(cubic_rows_doc,
"cubic_rows(src, width, offset, n_src, index, frac, dst, dst_row, dst_group, group)\n\n"
"Interpolate output rows r = 0..len(index)-1 along dim 0 of `src` (C-contiguous float32,\n"
"rows of `width` holding source rows offset.. of an axis of n_src) with Torch's bicubic.\n"
"`index` (int64) and `frac` (float32) give each output's source interval and fraction.\n"
"Element k of output row r is stored at dst[r*dst_row + (k//group)*dst_group + k%group]\n"
"(float32 items). Every access is bounds-checked first; ValueError if one would leave a buffer.");

static PyObject *cubic_rows(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer src = {0}, index = {0}, frac = {0}, dst = {0};
    PyObject *src_obj, *index_obj, *frac_obj, *dst_obj;
    Py_ssize_t width, dst_row, dst_group, group;
    long long offset, n_src;
    PyObject *result = NULL;
    float *block = NULL;
    if (!PyArg_ParseTuple(args, "OnLLOOOnnn", &src_obj, &width, &offset, &n_src, &index_obj,
                          &frac_obj, &dst_obj, &dst_row, &dst_group, &group))
        return NULL;
    const char *me = "cubic_rows";
    if (get_buffer(src_obj, &src, 'f', 0, me, "src") ||
        get_buffer(index_obj, &index, 'q', 0, me, "index") ||
        get_buffer(frac_obj, &frac, 'f', 0, me, "frac") ||
        get_buffer(dst_obj, &dst, 'f', 1, me, "dst"))
        goto done;
    Py_ssize_t n_out = index.len / 8, src_rows = width > 0 ? src.len / 4 / width : 0;
    Py_ssize_t dst_len = dst.len / 4;
    const int64_t *idx = index.buf;
    /* Strides no larger than the buffer (where they are used) keep the products below from
     * overflowing. */
    if (frac.len / 4 != n_out || width <= 0 || group <= 0 || width % group || dst_row < 0 ||
        dst_group < 0 || (n_out > 1 && dst_row > dst_len) ||
        (width / group > 1 && dst_group > dst_len)) {
        PyErr_SetString(PyExc_ValueError, "cubic_rows: inconsistent sizes or strides");
        goto done;
    }
    /* Interval indices within 0..n_src-2 and 0 <= offset < n_src first, so that no sum below
     * can overflow. */
    if (n_out > 0 && (n_src < 2 || offset < 0 || offset >= n_src)) {
        PyErr_SetString(PyExc_ValueError, "cubic_rows: need n_src >= 2 and 0 <= offset < n_src");
        goto done;
    }
    for (Py_ssize_t r = 0; r < n_out; r++) {
        int64_t first = idx[r] > 0 ? idx[r] - 1 : idx[r];
        int64_t last = idx[r] < n_src - 2 ? idx[r] + 2 : idx[r] + 1;
        if (idx[r] < 0 || idx[r] > n_src - 2 || first < offset || last - offset >= src_rows) {
            PyErr_Format(PyExc_ValueError, "cubic_rows: output %zd reads source rows outside "
                         "the buffer", r);
            goto done;
        }
    }
    if (n_out > 0) {
        Py_ssize_t end = (n_out - 1) * dst_row + (width / group - 1) * dst_group + group;
        if (end > dst_len) {
            PyErr_SetString(PyExc_ValueError, "cubic_rows: dst is too small");
            goto done;
        }
    }
    /* A strided destination (the transposed first pass) is written BLOCK rows at a time, so that
     * each group's writes for consecutive rows are adjacent instead of a cache line apart. */
    int contiguous = dst_group == group;
    if (!contiguous && !(block = PyMem_Malloc(BLOCK * width * sizeof(float)))) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    const float *fr = frac.buf;
    float *out = dst.buf;
    for (Py_ssize_t r0 = 0; r0 < n_out; r0 += BLOCK) {
        Py_ssize_t rows = n_out - r0 < BLOCK ? n_out - r0 : BLOCK;
        for (Py_ssize_t r = r0; r < r0 + rows; r++)
            interpolate_row(src.buf, width, offset, n_src, idx[r], fr[r],
                            contiguous ? out + r * dst_row : block + (r - r0) * width);
        if (contiguous)
            continue;
        if (group == 3)
            scatter(block, rows, width, 3, out + r0 * dst_row, dst_row, dst_group);
        else if (group == 1)
            scatter(block, rows, width, 1, out + r0 * dst_row, dst_row, dst_group);
        else
            scatter(block, rows, width, group, out + r0 * dst_row, dst_row, dst_group);
    }
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(block);
    PyBuffer_Release(&src);
    PyBuffer_Release(&index);
    PyBuffer_Release(&frac);
    PyBuffer_Release(&dst);
    return result;
}

PyDoc_STRVAR(to_bytes_doc,
"to_bytes(src, dst)\n\n"
"dst[i] = src[i] * 255 (float32) rounded half to even and clamped to 0..255, for float32\n"
"`src` and a uint8 `dst` of the same length: what torch.mul(x, 255).round_().clamp_(0, 255)\n"
"gives, in one pass.");

HOT_LOOP static void round_to_bytes(const float *in, uint8_t *out, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Adding and subtracting 1.5 * 2^23 rounds a float of magnitude below 2^22 to an
         * integer, half to even (the default rounding mode) as nearbyintf would; larger ones
         * stay large. Clamping the float before the cast keeps the cast defined for every input
         * (NaN gives 0), and the loop vectorises. */
        float y = (in[i] * 255.0f + 12582912.0f) - 12582912.0f;
        y = y > 0.0f ? y : 0.0f;
        y = y < 255.0f ? y : 255.0f;
        out[i] = (uint8_t)(int32_t)y;
    }
}

static PyObject *to_bytes(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer src = {0}, dst = {0};
    PyObject *src_obj, *dst_obj, *result = NULL;
    if (!PyArg_ParseTuple(args, "OO", &src_obj, &dst_obj))
        return NULL;
    if (get_buffer(src_obj, &src, 'f', 0, "to_bytes", "src") ||
        get_buffer(dst_obj, &dst, 'B', 1, "to_bytes", "dst"))
        goto done;
    if (dst.len != src.len / 4) {
        PyErr_SetString(PyExc_ValueError, "to_bytes: src and dst differ in length");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    round_to_bytes(src.buf, dst.buf, dst.len);
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef methods[] = {
    {"cubic_rows", cubic_rows, METH_VARARGS, cubic_rows_doc},
    {"to_bytes", to_bytes, METH_VARARGS, to_bytes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_torch_cubic",
    "Lua Torch's bicubic image.scale, compiled (see evaluate/transforms.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__torch_cubic(void) { return PyModule_Create(&module); }
