/* Lua Torch's bicubic `image.scale`, compiled, and the fast pipeline's kernels.
 *
 * - `cubic_rows` is one pass of image.c's `scaleCubic_rowcol` and `cubicInterpolate`, expression
 *   for expression, so that every float32 and double rounding is Torch's (the torch7 pipeline).
 *   evaluate/data/transforms.py plans each pass (which source interval and fraction each output
 *   uses, which rows are copied) and calls it; without this module the same arithmetic runs on
 *   torch ops (evaluate/data/cubic.py), bit for bit, about four times slower.
 * - `scale_bytes` is the fast pipeline's resize: Torch's positions, kernel and borders as float32
 *   weights (planned by transforms._byte_plan), bytes in, rounded bytes out, in one pass over
 *   Pillow's own pixel memory.
 * - `normalize` turns a batch of bytes into the model input by table lookup.
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
        /* The interval first, so that first and last cannot overflow. */
        int inside = idx[r] >= 0 && idx[r] <= n_src - 2;
        int64_t first = inside && idx[r] > 0 ? idx[r] - 1 : idx[r];
        int64_t last = inside ? (idx[r] < n_src - 2 ? idx[r] + 2 : idx[r] + 1) : 0;
        if (!inside || first < offset || last - offset >= src_rows) {
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

/* --- fast pipeline: Torch's geometry and kernel, float32 weights, bytes in and out ------------ */

#define MAX_TAPS 4

/* A float clamped to 0..255 and rounded half to even (adding and subtracting 1.5 * 2^23 rounds a
 * float below 2^22 to an integer in the default rounding mode), as a byte. */
static inline uint8_t round_byte(float v)
{
    v = v > 0.0f ? v : 0.0f;
    v = v < 255.0f ? v : 255.0f;
    return (uint8_t)(int32_t)((v + 12582912.0f) - 12582912.0f);
}

/* The rows pass of one output row: the weighted sum of `rows` source rows (from `s`, a row
 * stride apart) over `len` bytes, into `line`. */
static inline void rows_pass(const uint8_t *s, Py_ssize_t stride, const float *wy, int rows,
                             Py_ssize_t len, float *restrict line)
{
    if (rows == 4) {
        const uint8_t *restrict s0 = s, *restrict s1 = s + stride, *restrict s2 = s + 2 * stride,
                                *restrict s3 = s + 3 * stride;
        float w0 = wy[0], w1 = wy[1], w2 = wy[2], w3 = wy[3];
        for (Py_ssize_t j = 0; j < len; j++)
            line[j] = w0 * s0[j] + w1 * s1[j] + w2 * s2[j] + w3 * s3[j];
        return;
    }
    for (Py_ssize_t j = 0; j < len; j++)
        line[j] = wy[0] * s[j];
    for (int t = 1; t < rows; t++)
        for (Py_ssize_t j = 0; j < len; j++)
            line[j] += wy[t] * s[t * stride + j];
}

/* The columns pass of one output row: each output pixel's `channels` bytes from `cols` taps of
 * `line` (`pixel` floats per source pixel). Inlined with constants, where loops unroll. */
static inline void columns_pass(const float *line, int pixel, const int64_t *col, const float *wx,
                                int cols, Py_ssize_t n_x, int channels, uint8_t *out)
{
    for (Py_ssize_t x = 0; x < n_x; x++) {
        const float *p = line + col[x] * pixel;
        const float *w = wx + x * cols;
        for (int c = 0; c < channels; c++) {
            float v = 0.0f;
            for (int t = 0; t < cols; t++)
                v += w[t] * p[t * pixel + c];
            out[x * channels + c] = round_byte(v);
        }
    }
}

/* GCC >= 9 and Clang have vector types with __builtin_convertvector; elsewhere the scalar loop
 * runs (the same operations in the same order, so the same bytes; -DVECTOR_COLUMNS=0 tests it). */
#ifndef VECTOR_COLUMNS
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)
#define VECTOR_COLUMNS 1
#else
#define VECTOR_COLUMNS 0
#endif
#endif

#if VECTOR_COLUMNS
/* RGB with 4 taps, the common case: a pixel's channels in one 4-lane vector (with 3-byte pixels
 * the 4th lane is the next pixel's red, computed and dropped; `line` has a float of padding). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void columns_pass_rgb4(const float *line, int pixel, const int64_t *col,
                                     const float *wx, Py_ssize_t n_x, uint8_t *out)
{
    const v4f zero = {0.0f, 0.0f, 0.0f, 0.0f}, top = {255.0f, 255.0f, 255.0f, 255.0f};
    const v4f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f};
    for (Py_ssize_t x = 0; x < n_x; x++) {
        const float *p = line + col[x] * pixel;
        const float *w = wx + x * 4;
        v4f v = load4(p) * w[0] + load4(p + pixel) * w[1] + load4(p + 2 * pixel) * w[2] +
                load4(p + 3 * pixel) * w[3];
        v = (v4f)((v4i)v & (v > zero)); /* below 0 (or NaN) -> 0 */
        v4i high = v > top;
        v = (v4f)(((v4i)v & ~high) | ((v4i)top & high)); /* above 255 -> 255 */
        v4i bytes = __builtin_convertvector((v + magic) - magic, v4i);
        out[3 * x] = (uint8_t)bytes[0];
        out[3 * x + 1] = (uint8_t)bytes[1];
        out[3 * x + 2] = (uint8_t)bytes[2];
    }
}
#endif

/* `line` holds line_len floats and one of padding. */
HOT_LOOP static void scale_rows(const uint8_t *src, Py_ssize_t src_stride, int pixel,
                                const int64_t *row, const float *wy, int rows, Py_ssize_t n_y,
                                Py_ssize_t col0, Py_ssize_t line_len, float *line,
                                const int64_t *col, const float *wx, int cols, Py_ssize_t n_x,
                                int channels, uint8_t *dst)
{
    for (Py_ssize_t y = 0; y < n_y; y++) {
        uint8_t *out = dst + y * n_x * channels;
        rows_pass(src + row[y] * src_stride + col0 * pixel, src_stride, wy + y * rows, rows,
                  line_len, line);
#if VECTOR_COLUMNS
        if (channels == 3 && cols == 4 && pixel == 4) {
            columns_pass_rgb4(line, 4, col, wx, n_x, out);
            continue;
        }
        if (channels == 3 && cols == 4 && pixel == 3) {
            columns_pass_rgb4(line, 3, col, wx, n_x, out);
            continue;
        }
#endif
        if (channels == 1 && pixel == 1 && cols == 4)
            columns_pass(line, 1, col, wx, 4, n_x, 1, out);
        else
            columns_pass(line, pixel, col, wx, cols, n_x, channels, out);
    }
}

/* Check a plan: `taps` weights per output, first tap within 0..n_src-taps; sets *lo, *hi to the
 * smallest first tap and the largest first tap + taps. */
static int check_plan(const Py_buffer *start, const Py_buffer *weight, Py_ssize_t n_src,
                      Py_ssize_t *n_out, int *taps, Py_ssize_t *lo, Py_ssize_t *hi,
                      const char *axis)
{
    *n_out = start->len / 8;
    if (*n_out == 0 || weight->len / 4 % *n_out || weight->len / 4 / *n_out < 1 ||
        weight->len / 4 / *n_out > MAX_TAPS) {
        PyErr_Format(PyExc_ValueError, "scale_bytes: %s plan needs 1..%d weights per output",
                     axis, MAX_TAPS);
        return -1;
    }
    *taps = (int)(weight->len / 4 / *n_out);
    const int64_t *s = start->buf;
    *lo = n_src;
    *hi = 0;
    for (Py_ssize_t i = 0; i < *n_out; i++) {
        if (s[i] < 0 || s[i] > n_src - *taps) {
            PyErr_Format(PyExc_ValueError, "scale_bytes: %s output %zd reads outside the "
                         "source", axis, i);
            return -1;
        }
        *lo = s[i] < *lo ? s[i] : *lo;
        *hi = s[i] + *taps > *hi ? s[i] + *taps : *hi;
    }
    return 0;
}

/* The Arrow C data interface (arrow.apache.org/docs/format/CDataInterface.html), a stable ABI. */
struct ArrowSchema {
    const char *format, *name, *metadata;
    int64_t flags, n_children;
    struct ArrowSchema **children, *dictionary;
    void (*release)(struct ArrowSchema *);
    void *private_data;
};

struct ArrowArray {
    int64_t length, null_count, offset, n_buffers, n_children;
    const void **buffers;
    struct ArrowArray **children, *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

/* No null entries: none counted, or no validity bitmap at all. */
static int all_valid(const struct ArrowArray *a)
{
    return a->n_buffers >= 1 && (a->null_count == 0 || a->buffers[0] == NULL);
}

/* The pixels of a Pillow image exported with `__arrow_c_array__` (Pillow >= 11.2, zero copy):
 * uint8 per pixel for one band, or fixed-size lists of 4 uint8 (Pillow's storage: RGB is RGBX)
 * for more. Sets *pixels and *pixel (bytes per pixel, 1 or 4); the capsules keep the memory. */
static int arrow_pixels(PyObject *capsules, Py_ssize_t n_pixels, const uint8_t **pixels,
                        int *pixel)
{
    PyObject *schema_obj, *array_obj;
    if (!PyArg_ParseTuple(capsules, "OO", &schema_obj, &array_obj))
        return -1;
    struct ArrowSchema *schema = PyCapsule_GetPointer(schema_obj, "arrow_schema");
    struct ArrowArray *array = schema ? PyCapsule_GetPointer(array_obj, "arrow_array") : NULL;
    if (!array)
        return -1;
    int lists = strcmp(schema->format, "+w:4") == 0;
    const struct ArrowArray *values = array; /* the uint8 values: the array, or its child */
    if (lists && schema->n_children == 1 && strcmp(schema->children[0]->format, "C") == 0 &&
        array->n_children == 1)
        values = array->children[0];
    int ok = array->release && array->length == n_pixels && all_valid(array) &&
             all_valid(values) && array->offset >= 0 && values->offset >= 0 &&
             values->offset <= INT64_MAX - values->length && values->n_buffers == 2 &&
             values->buffers[1] &&
             (lists ? values != array && array->offset <= values->length / 4 - n_pixels
                    : strcmp(schema->format, "C") == 0);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "scale_bytes: src is not an image's Arrow export of "
                        "height x width pixels");
        return -1;
    }
    /* The checks above keep this sum within the values' buffer. */
    int64_t start = lists ? values->offset + array->offset * 4 : array->offset;
    *pixels = (const uint8_t *)values->buffers[1] + start;
    *pixel = lists ? 4 : 1;
    return 0;
}

PyDoc_STRVAR(scale_bytes_doc,
"scale_bytes(src, height, width, channels, row_start, row_weight, col_start, col_weight, dst)\n\n"
"Resize the uint8 image `src` to uint8 `dst` (len(row_start) x len(col_start) x channels):\n"
"output (y, x, c) is sum_t row_weight[y, t] * sum_u col_weight[x, u] * src[row_start[y] + t,\n"
"col_start[x] + u, c] in float32, clamped to 0..255 and rounded half to even. Weights are\n"
"float32, up to 4 per output; starts are int64. `src` is a C-contiguous buffer (height x width\n"
"x channels), or the (schema, array) capsules of a Pillow image's __arrow_c_array__(). Every\n"
"access is bounds-checked first; ValueError if one would leave a buffer.");

static PyObject *scale_bytes(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer src = {0}, row_start = {0}, row_weight = {0}, col_start = {0}, col_weight = {0},
              dst = {0};
    PyObject *src_obj, *rs_obj, *rw_obj, *cs_obj, *cw_obj, *dst_obj, *result = NULL;
    Py_ssize_t height, width, n_y, n_x, row_lo, row_hi, col_lo, col_hi;
    int channels, pixel, rows, cols;
    const uint8_t *pixels;
    int64_t *col = NULL;
    float *line = NULL;
    if (!PyArg_ParseTuple(args, "OnniOOOOO", &src_obj, &height, &width, &channels, &rs_obj,
                          &rw_obj, &cs_obj, &cw_obj, &dst_obj))
        return NULL;
    const char *me = "scale_bytes";
    if (height <= 0 || width <= 0 || height > PY_SSIZE_T_MAX / 4 / width ||
        (channels != 1 && channels != 3)) {
        PyErr_SetString(PyExc_ValueError, "scale_bytes: need a positive size and 1 or 3 channels");
        return NULL;
    }
    if (PyTuple_Check(src_obj)) {
        if (arrow_pixels(src_obj, height * width, &pixels, &pixel))
            return NULL;
        if ((pixel == 1) != (channels == 1)) {
            PyErr_SetString(PyExc_ValueError, "scale_bytes: src has the wrong number of bands");
            return NULL;
        }
    } else {
        if (get_buffer(src_obj, &src, 'B', 0, me, "src"))
            return NULL;
        if (src.len != height * width * channels) {
            PyErr_SetString(PyExc_ValueError, "scale_bytes: src is not height x width x channels");
            goto done;
        }
        pixels = src.buf;
        pixel = channels;
    }
    if (get_buffer(rs_obj, &row_start, 'q', 0, me, "row_start") ||
        get_buffer(rw_obj, &row_weight, 'f', 0, me, "row_weight") ||
        get_buffer(cs_obj, &col_start, 'q', 0, me, "col_start") ||
        get_buffer(cw_obj, &col_weight, 'f', 0, me, "col_weight") ||
        get_buffer(dst_obj, &dst, 'B', 1, me, "dst"))
        goto done;
    if (check_plan(&row_start, &row_weight, height, &n_y, &rows, &row_lo, &row_hi, "row") ||
        check_plan(&col_start, &col_weight, width, &n_x, &cols, &col_lo, &col_hi, "column"))
        goto done;
    /* Each factor no larger than the buffer keeps the products from overflowing. */
    if (n_x > dst.len / channels || n_y > dst.len / channels / n_x ||
        n_y * n_x * channels != dst.len) {
        PyErr_SetString(PyExc_ValueError, "scale_bytes: dst is not the outputs x channels");
        goto done;
    }
    Py_ssize_t line_len = (col_hi - col_lo) * pixel;
    line = PyMem_Calloc(line_len + 1, sizeof(float));
    col = PyMem_Malloc(n_x * sizeof(int64_t));
    if (!line || !col) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t x = 0; x < n_x; x++)
        col[x] = ((const int64_t *)col_start.buf)[x] - col_lo;
    Py_BEGIN_ALLOW_THREADS
    scale_rows(pixels, width * pixel, pixel, row_start.buf, row_weight.buf, rows, n_y, col_lo,
               line_len, line, col, col_weight.buf, cols, n_x, channels, dst.buf);
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyMem_Free(line);
    PyMem_Free(col);
    PyBuffer_Release(&src);
    PyBuffer_Release(&row_start);
    PyBuffer_Release(&row_weight);
    PyBuffer_Release(&col_start);
    PyBuffer_Release(&col_weight);
    PyBuffer_Release(&dst);
    return result;
}

/* --- fast pipeline: bytes to the model input ----------------------------------------------- */

/* dst = table[byte] per output channel, from `channels` (1: replicated, or 3) interleaved bytes
 * per pixel, to 3 planes of n_pixels (image by image) or, channels-last, 3 interleaved floats. */
HOT_LOOP static void lookup(const uint8_t *src, Py_ssize_t n_images, Py_ssize_t n_pixels,
                            int channels, const float *table, int channels_last, float *dst)
{
    const float *t0 = table, *t1 = table + 256, *t2 = table + 512;
    int g = channels == 3 ? 1 : 0, b = channels == 3 ? 2 : 0;
    for (Py_ssize_t n = 0; n < n_images; n++) {
        const uint8_t *s = src + n * n_pixels * channels;
        float *d = dst + n * n_pixels * 3;
        if (channels_last) {
            for (Py_ssize_t p = 0; p < n_pixels; p++) {
                d[3 * p] = t0[s[p * channels]];
                d[3 * p + 1] = t1[s[p * channels + g]];
                d[3 * p + 2] = t2[s[p * channels + b]];
            }
        } else {
            float *d1 = d + n_pixels, *d2 = d1 + n_pixels;
            for (Py_ssize_t p = 0; p < n_pixels; p++) {
                d[p] = t0[s[p * channels]];
                d1[p] = t1[s[p * channels + g]];
                d2[p] = t2[s[p * channels + b]];
            }
        }
    }
}

PyDoc_STRVAR(normalize_doc,
"normalize(src, n_images, channels, table, dst, channels_last)\n\n"
"Map uint8 `src` (n_images x pixels x channels, channels 1 or 3) through `table` (float32,\n"
"3 x 256: one row per output channel; one source channel is used for all three) into float32\n"
"`dst`, laid out n_images x 3 x pixels, or n_images x pixels x 3 with `channels_last`.");

static PyObject *normalize(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer src = {0}, table = {0}, dst = {0};
    PyObject *src_obj, *table_obj, *dst_obj, *result = NULL;
    Py_ssize_t n_images;
    int channels, channels_last;
    if (!PyArg_ParseTuple(args, "OniOOp", &src_obj, &n_images, &channels, &table_obj, &dst_obj,
                          &channels_last))
        return NULL;
    const char *me = "normalize";
    if (get_buffer(src_obj, &src, 'B', 0, me, "src") ||
        get_buffer(table_obj, &table, 'f', 0, me, "table") ||
        get_buffer(dst_obj, &dst, 'f', 1, me, "dst"))
        goto done;
    if (n_images <= 0 || (channels != 1 && channels != 3) || src.len % (n_images * channels) ||
        table.len != 3 * 256 * 4 || dst.len / 4 != src.len / channels * 3) {
        PyErr_SetString(PyExc_ValueError, "normalize: inconsistent sizes");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    lookup(src.buf, n_images, src.len / n_images / channels, channels, table.buf, channels_last,
           dst.buf);
    Py_END_ALLOW_THREADS
    Py_INCREF(Py_None);
    result = Py_None;
done:
    PyBuffer_Release(&src);
    PyBuffer_Release(&table);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef methods[] = {
    {"cubic_rows", cubic_rows, METH_VARARGS, cubic_rows_doc},
    {"scale_bytes", scale_bytes, METH_VARARGS, scale_bytes_doc},
    {"normalize", normalize, METH_VARARGS, normalize_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_torch_cubic",
    "Lua Torch's bicubic image.scale, compiled (see evaluate/data/transforms.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__torch_cubic(void) { return PyModule_Create(&module); }
