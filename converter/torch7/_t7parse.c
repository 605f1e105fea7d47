/* The binary torch.save parser's object loop in C (converter/torch7/fast.py calls it).

   It builds exactly what converter/torch7/fast.py's BinaryReader builds, with the same
   Python classes, for a file that reads cleanly. It never reports a problem itself: at the
   first thing it does not handle (a truncated or corrupt file, a view outside its storage, a
   tds class, nesting deeper than C_DEPTH, an error raised by a constructor) it stops and returns
   None, and the Python reader reads the file again, so every file that fails fails with the
   Python reader's one message. Every read is bounds-checked before it is made. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if PY_VERSION_HEX < 0x030A0000 /* Python 3.9 */
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *Py_XNewRef(PyObject *o) { Py_XINCREF(o); return o; }
#endif

/* Deeper nesting is left to the Python loop (binary.py allows MAX_DEPTH, 2000): a few hundred
   bytes of C stack a level stay well inside a thread's smallest stack (512 KB on macOS); the
   deepest real file here (an nngraph U-Net) nests 98 levels. */
#define C_DEPTH 1000

enum { T_NIL = 0, T_NUMBER = 1, T_STRING = 2, T_TABLE = 3, T_TORCH = 4, T_BOOLEAN = 5 };

typedef struct {
    const char *buf;
    Py_ssize_t size, pos;
    int depth, max_depth;
    long max_dims;
    PyObject *memo;         /* object index -> object, as the Python reader's `objects` */
    PyObject *versions;     /* class head bytes -> version (int) or None (no "V n" head) */
    PyObject *classes;      /* class name bytes -> (name, handler spec or None) */
    PyObject *handlers;     /* class name -> (kind: 0 storage 1 tensor, dtype, itemsize) */
    PyObject *others;       /* class names with a Python handler only (tds): not done here */
    PyObject *make_storage; /* (class name, dtype, size, byte offset) -> T7Storage */
    PyObject *t7object, *t7tensor, *t7storage, *luafunction, *luabool, *identitykey;
} Parser;

static PyObject *read_obj(Parser *p);

static int take(Parser *p, Py_ssize_t n, const char **at) {
    if (n < 0 || n > p->size - p->pos) return -1;
    *at = p->buf + p->pos;
    p->pos += n;
    return 0;
}

static int read_i32(Parser *p, int32_t *out) {
    const char *at;
    if (take(p, 4, &at)) return -1;
    memcpy(out, at, 4);
    return 0;
}

static int read_i64(Parser *p, int64_t *out) {
    const char *at;
    if (take(p, 8, &at)) return -1;
    memcpy(out, at, 8);
    return 0;
}

static int read_string(Parser *p, const char **at, Py_ssize_t *n) {
    int32_t size;
    if (read_i32(p, &size) || size < 0 || take(p, size, at)) return -1;
    *n = size;
    return 0;
}

/* str where the bytes are UTF-8, else bytes (binary.py's _decode) */
static PyObject *decode(const char *s, Py_ssize_t n) {
    PyObject *text = PyUnicode_DecodeUTF8(s, n, NULL);
    if (text != NULL || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return text;
    PyErr_Clear();
    return PyBytes_FromStringAndSize(s, n);
}

static PyObject *read_number(Parser *p) {
    double x;
    const char *at;
    if (take(p, 8, &at)) return NULL;
    memcpy(&x, at, 8);
    /* an integral double below 2**53 is a Python int (binary.py) */
    if ((x < 0 ? -x : x) < 9007199254740992.0 && x == (double)(int64_t)x) /* NaN: false */
        return PyLong_FromLongLong((long long)x);
    return PyFloat_FromDouble(x);
}

/* the "V n" head's version, None where the head is the class name itself; NULL: not handled */
static PyObject *version_of(PyObject *head) {
    const char *s = PyBytes_AS_STRING(head);
    Py_ssize_t n = PyBytes_GET_SIZE(head);
    if (n < 2 || s[0] != 'V' || s[1] != ' ') Py_RETURN_NONE;
    PyObject *text = PyUnicode_DecodeUTF8(s + 2, n - 2, NULL);
    if (text == NULL) return NULL;
    PyObject *number = PyFloat_FromString(text);
    Py_DECREF(text);
    if (number == NULL) return NULL;
    PyObject *version = PyNumber_Long(number);
    Py_DECREF(number);
    return version;
}

/* (class name, handler spec or None) for a class name's bytes; NULL: not handled */
static PyObject *class_of(Parser *p, PyObject *raw) {
    PyObject *name = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), NULL);
    if (name == NULL) return NULL;
    int printable = PyUnicode_GET_LENGTH(name) > 0;
    for (Py_ssize_t i = 0; printable && i < PyUnicode_GET_LENGTH(name); i++)
        printable = Py_UNICODE_ISPRINTABLE(PyUnicode_READ_CHAR(name, i));
    if (!printable || PySet_Contains(p->others, name) != 0) {
        Py_DECREF(name);
        return NULL;
    }
    PyObject *spec = PyDict_GetItemWithError(p->handlers, name);
    if (spec == NULL && PyErr_Occurred()) {
        Py_DECREF(name);
        return NULL;
    }
    PyObject *named = PyTuple_Pack(2, name, spec ? spec : Py_None);
    Py_DECREF(name);
    return named;
}

static PyObject *read_storage(Parser *p, PyObject *name, PyObject *spec) {
    int64_t size;
    long itemsize = PyLong_AsLong(PyTuple_GET_ITEM(spec, 2));
    if (itemsize <= 0 || read_i64(p, &size) || size < 0) return NULL;
    if (size > (p->size - p->pos) / itemsize) return NULL;
    Py_ssize_t start = p->pos;
    p->pos += (Py_ssize_t)size * itemsize;
    return PyObject_CallFunction(p->make_storage, "OOLn", name, PyTuple_GET_ITEM(spec, 1),
                                 (long long)size, start);
}

/* element i of the little-endian int64 array at `at` (not necessarily aligned) */
static int64_t long_at(const char *at, Py_ssize_t i) {
    int64_t value;
    memcpy(&value, at + 8 * i, 8);
    return value;
}

/* binary.py's _check_view: the view (sizes, then strides, in `header`) lies inside a storage
   of its own element type */
static int view_fits(PyObject *storage, PyObject *dtype, const char *header, int32_t ndim,
                     int64_t offset) {
    int64_t numel = ndim ? 1 : 0, last = offset;
    if (offset < 0) return 0;
    for (int32_t i = 0; i < ndim; i++) { /* sizes and strides >= 0: overflow checks by division */
        int64_t size = long_at(header, i), stride = long_at(header, ndim + i);
        if (size < 0 || stride < 0) return 0;
        if (size && numel > INT64_MAX / size) return 0;
        numel *= size;
    }
    if (numel == 0) return 1;
    if (storage == Py_None) return 0;
    for (int32_t i = 0; i < ndim; i++) {
        int64_t size = long_at(header, i), stride = long_at(header, ndim + i);
        if (stride && size - 1 > (INT64_MAX - last) / stride) return 0;
        last += (size - 1) * stride;
    }
    PyObject *size = PyObject_GetAttrString(storage, "size");
    PyObject *kind = PyObject_GetAttrString(storage, "dtype");
    int fits = size != NULL && kind != NULL && PyLong_Check(size);
    if (fits) {
        long long n = PyLong_AsLongLong(size);
        fits = !PyErr_Occurred() && last < n && PyObject_RichCompareBool(kind, dtype, Py_EQ) == 1;
    }
    Py_XDECREF(size);
    Py_XDECREF(kind);
    return fits;
}

static PyObject *read_tensor(Parser *p, PyObject *name, PyObject *spec) {
    int32_t ndim;
    const char *header; /* sizes, strides, storageOffset: read in place, no stack copy */
    if (read_i32(p, &ndim) || ndim < 0 || ndim > p->max_dims) return NULL;
    if (take(p, 8 * (2 * (Py_ssize_t)ndim + 1), &header)) return NULL;
    int64_t first = long_at(header, 2 * ndim);
    if (first < 1) return NULL; /* Torch's storageOffset is 1-based; Python refuses the rest */
    PyObject *storage = read_obj(p);
    if (storage == NULL) return NULL;
    PyObject *dtype = PyTuple_GET_ITEM(spec, 1);
    if ((storage != Py_None && !PyObject_TypeCheck(storage, (PyTypeObject *)p->t7storage)) ||
        !view_fits(storage, dtype, header, ndim, first - 1)) {
        Py_DECREF(storage);
        return NULL;
    }
    PyObject *shape = PyTuple_New(ndim), *stride = PyTuple_New(ndim), *tensor = NULL;
    if (shape && stride) {
        for (int32_t i = 0; i < ndim; i++) {
            PyTuple_SET_ITEM(shape, i, PyLong_FromLongLong(long_at(header, i)));
            PyTuple_SET_ITEM(stride, i, PyLong_FromLongLong(long_at(header, ndim + i)));
        }
        if (!PyErr_Occurred())
            tensor = PyObject_CallFunction(p->t7tensor, "OOOOLO", name, dtype, shape, stride,
                                           (long long)(first - 1), storage);
    }
    Py_XDECREF(shape);
    Py_XDECREF(stride);
    Py_DECREF(storage);
    return tensor;
}

static PyObject *cached(PyObject *cache, PyObject *key, PyObject *(*make)(Parser *, PyObject *),
                        Parser *p) {
    PyObject *value = PyDict_GetItemWithError(cache, key);
    if (value != NULL) return Py_NewRef(value);
    if (PyErr_Occurred()) return NULL;
    value = make(p, key);
    if (value != NULL && PyDict_SetItem(cache, key, value)) Py_CLEAR(value);
    return value;
}

static PyObject *version_in(Parser *p, PyObject *head) {
    (void)p;
    return version_of(head);
}

static PyObject *read_torch(Parser *p, PyObject *index) {
    const char *s;
    Py_ssize_t n;
    if (read_string(p, &s, &n)) return NULL;
    PyObject *raw = PyBytes_FromStringAndSize(s, n);
    if (raw == NULL) return NULL;
    PyObject *version = cached(p->versions, raw, version_in, p);
    if (version == NULL) goto fail_raw;
    if (version == Py_None) { /* no "V n" head: this is the class name (files before versions) */
        Py_DECREF(version);
        if ((version = PyLong_FromLong(0)) == NULL) goto fail_raw;
    } else {
        Py_DECREF(raw);
        if (read_string(p, &s, &n) || (raw = PyBytes_FromStringAndSize(s, n)) == NULL) {
            Py_DECREF(version);
            return NULL;
        }
    }
    PyObject *named = cached(p->classes, raw, class_of, p);
    Py_DECREF(raw);
    if (named == NULL) {
        Py_XDECREF(version);
        return NULL;
    }
    PyObject *name = PyTuple_GET_ITEM(named, 0), *spec = PyTuple_GET_ITEM(named, 1), *obj = NULL;
    if (spec != Py_None) {
        if (PyDict_SetItem(p->memo, index, Py_None) == 0)
            obj = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0)) == 0 ? read_storage(p, name, spec)
                                                                : read_tensor(p, name, spec);
    } else {
        obj = PyObject_CallFunctionObjArgs(p->t7object, name, version, NULL);
        if (obj != NULL && PyDict_SetItem(p->memo, index, obj) == 0) {
            PyObject *fields = read_obj(p); /* an object may refer to itself: memo first */
            if (fields == NULL || PyObject_SetAttrString(obj, "fields", fields)) Py_CLEAR(obj);
            Py_XDECREF(fields);
        } else {
            Py_CLEAR(obj);
        }
    }
    if (obj != NULL && PyDict_SetItem(p->memo, index, obj)) Py_CLEAR(obj);
    Py_DECREF(named);
    Py_DECREF(version);
    return obj;
fail_raw:
    Py_DECREF(raw);
    return NULL;
}

static PyObject *read_table(Parser *p, PyObject *index) {
    int32_t size;
    if (read_i32(p, &size) || size < 0 || (int64_t)size * 8 > p->size - p->pos) return NULL;
    PyObject *table = PyDict_New();
    if (table == NULL || PyDict_SetItem(p->memo, index, table)) goto fail;
    for (int32_t i = 0; i < size; i++) {
        PyObject *key = read_obj(p);
        if (key == NULL) goto fail;
        PyObject *value = read_obj(p);
        if (value == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        if (PyBool_Check(key)) { /* Lua keeps true and 1 apart; Python's dict would not */
            PyObject *wrapped = PyObject_CallFunctionObjArgs(p->luabool, key, NULL);
            Py_SETREF(key, wrapped);
        }
        int bad = key == NULL || PyDict_SetItem(table, key, value);
        if (bad && key != NULL && PyErr_ExceptionMatches(PyExc_TypeError)) {
            /* a table used as a key: kept under its identity, as binary.py does */
            PyErr_Clear();
            PyObject *wrapped = PyObject_CallFunctionObjArgs(p->identitykey, key, NULL);
            bad = wrapped == NULL || PyDict_SetItem(table, wrapped, value);
            Py_XDECREF(wrapped);
        }
        Py_XDECREF(key);
        Py_DECREF(value);
        if (bad) goto fail;
    }
    /* keys exactly 1..n: a Lua list, as Python's list */
    Py_ssize_t n = PyDict_GET_SIZE(table), pos = 0;
    PyObject *key, *value;
    int is_list = n > 0;
    while (is_list && PyDict_Next(table, &pos, &key, &value)) {
        int overflow = 0;
        long long k = PyLong_CheckExact(key) ? PyLong_AsLongLongAndOverflow(key, &overflow) : 0;
        is_list = PyLong_CheckExact(key) && !overflow && k >= 1 && k <= n;
    }
    if (!is_list) return table;
    PyObject *items = PyList_New(n);
    if (items == NULL) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PyLong_FromSsize_t(i + 1);
        PyObject *v = k ? PyDict_GetItemWithError(table, k) : NULL;
        Py_XDECREF(k);
        if (v == NULL) {
            Py_DECREF(items);
            goto fail;
        }
        PyList_SET_ITEM(items, i, Py_NewRef(v));
    }
    Py_DECREF(table);
    if (PyDict_SetItem(p->memo, index, items)) Py_CLEAR(items);
    return items;
fail:
    Py_XDECREF(table);
    return NULL;
}

static PyObject *read_function(Parser *p, PyObject *index) {
    const char *s;
    Py_ssize_t n;
    if (read_string(p, &s, &n)) return NULL;
    PyObject *dumped = PyBytes_FromStringAndSize(s, n), *obj = NULL, *upvalues = NULL;
    if (dumped == NULL) return NULL;
    obj = PyObject_CallFunctionObjArgs(p->luafunction, dumped, Py_None, NULL);
    if (obj != NULL && PyDict_SetItem(p->memo, index, obj) == 0 &&
        (upvalues = read_obj(p)) != NULL) {
        Py_SETREF(obj, PyObject_CallFunctionObjArgs(p->luafunction, dumped, upvalues, NULL));
        if (obj != NULL && PyDict_SetItem(p->memo, index, obj)) Py_CLEAR(obj);
    } else {
        Py_CLEAR(obj);
    }
    Py_XDECREF(upvalues);
    Py_DECREF(dumped);
    return obj;
}

static PyObject *read_obj(Parser *p) {
    int32_t type, index;
    const char *s;
    Py_ssize_t n;
    if (read_i32(p, &type)) return NULL;
    switch (type) {
    case T_STRING:
        return read_string(p, &s, &n) ? NULL : decode(s, n);
    case T_NUMBER:
        return read_number(p);
    case T_NIL:
        Py_RETURN_NONE;
    case T_BOOLEAN:
        return read_i32(p, &index) ? NULL : PyBool_FromLong(index == 1);
    case T_TABLE: case T_TORCH: case 6: case 7: case 8:
        break;
    default:
        return NULL;
    }
    if (read_i32(p, &index)) return NULL;
    PyObject *key = PyLong_FromLong(index), *obj = NULL;
    if (key == NULL) return NULL;
    PyObject *seen = PyDict_GetItemWithError(p->memo, key);
    if (seen != NULL || PyErr_Occurred()) {
        Py_DECREF(key);
        return Py_XNewRef(seen);
    }
    if (++p->depth <= p->max_depth && p->depth <= C_DEPTH &&
        !Py_EnterRecursiveCall(" in the Torch7 parser")) {
        obj = type == T_TORCH ? read_torch(p, key)
            : type == T_TABLE ? read_table(p, key)
                              : read_function(p, key);
        Py_LeaveRecursiveCall();
    }
    p->depth--;
    Py_DECREF(key);
    return obj;
}

static PyObject *parse(PyObject *self, PyObject *args) {
    PyObject *data;
    Parser p = {0};
    (void)self;
    if (!PyArg_ParseTuple(args, "OilO!O!OOOOOOO", &data, &p.max_depth, &p.max_dims,
                          &PyDict_Type, &p.handlers, &PySet_Type, &p.others, &p.make_storage,
                          &p.t7object, &p.t7tensor, &p.t7storage, &p.luafunction, &p.luabool,
                          &p.identitykey))
        return NULL;
    const uint16_t one = 1;
    if (*(const char *)&one != 1 || !PyType_Check(p.t7storage)) Py_RETURN_NONE; /* big-endian */
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)) return NULL;
    p.buf = view.buf;
    p.size = view.len;
    p.memo = PyDict_New();
    p.versions = PyDict_New();
    p.classes = PyDict_New();
    PyObject *obj = p.memo && p.versions && p.classes ? read_obj(&p) : NULL, *result;
    PyBuffer_Release(&view);
    Py_XDECREF(p.memo);
    Py_XDECREF(p.versions);
    Py_XDECREF(p.classes);
    if (obj == NULL) {
        if (PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) return NULL;
        PyErr_Clear(); /* whatever stopped it, the Python reader says what it is */
        Py_RETURN_NONE;
    }
    result = Py_BuildValue("(Nn)", obj, p.pos);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS,
     "parse(data, max_depth, max_dims, handlers, others, make_storage, T7Object, T7Tensor, "
     "T7Storage, LuaFunction, LuaBool, IdentityKey) -> (object, end offset), or None where the Python "
     "reader must read the file"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_t7parse",
                                    "The binary Torch7 parser's object loop in C.", -1, methods};

PyMODINIT_FUNC PyInit__t7parse(void) { return PyModule_Create(&module); }
