/* Where one well-formed CBOR item ends, without building any value: the native twin of scan.py's
 * `scan_item`, for payloads (blocks) where building cbor2 values costs more than the check itself.
 *
 * It answers only yes (the end offset) or no (-1). On no, the Python scanner gives the verdict and locates
 * the fault, so this file never has to describe an error. The rules are exactly those of `scan_item`
 * (RFC 8949 well-formedness, strict UTF-8 text, two-byte simple values of at least 32, nesting no deeper
 * than MAX_DEPTH, counts that cannot exceed the bytes left); tests/test_cbor_native.py holds the two to
 * the same answer on generated, mutated and golden input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define MAX_DEPTH 500 /* head.MAX_DEPTH: the Python side refuses this module if they differ */
#define UNTIL_BREAK (-1)
#define KIND_ITEMS (-1)       /* array, definite map (2n items) or tag (1 item) */
#define KIND_OPEN_MAP (-2)    /* indefinite map: key/value parity matters at the break */

typedef struct {
    int64_t left; /* items still expected, or UNTIL_BREAK */
    int kind;     /* 2 or 3: chunks of an indefinite byte/text string; else KIND_ITEMS or KIND_OPEN_MAP */
    uint64_t seen;
} Frame;

static int valid_text(const unsigned char *text, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n && text[i] < 0x80) {
        i++;
    }
    if (i == n) {
        return 1;
    }
    /* Python's own strict decoder, so that the verdict is Python's to the byte. */
    PyObject *decoded = PyUnicode_DecodeUTF8((const char *)text, n, "strict");
    if (decoded == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(decoded);
    return 1;
}

/* Count one finished item against the enclosing frames; 1 when the outermost item is complete. */
static int item_done(Frame *stack, int *depth)
{
    while (*depth > 0) {
        Frame *frame = &stack[*depth - 1];
        if (frame->kind >= 0) {
            return 0;
        }
        frame->seen++;
        if (frame->left == UNTIL_BREAK) {
            return 0;
        }
        frame->left--;
        if (frame->left > 0) {
            return 0;
        }
        (*depth)--;
    }
    return 1;
}

static Py_ssize_t scan(const unsigned char *data, Py_ssize_t end, Py_ssize_t p, int limit, Frame *stack)
{
    int depth = 0;
    for (;;) {
        if (p >= end) {
            return -1;
        }
        unsigned char initial = data[p];
        int major = initial >> 5;
        int info = initial & 0x1f;
        Frame *frame = depth > 0 ? &stack[depth - 1] : NULL;
        if (frame != NULL && frame->kind >= 0) { /* inside an indefinite string: chunks or break only */
            if (initial == 0xff) {
                p++;
                depth--;
                if (item_done(stack, &depth)) {
                    return p;
                }
                continue;
            }
            if (major != frame->kind || info == 31) {
                return -1;
            }
        }
        if (info == 31) {
            if (major == 7) { /* break */
                if (frame == NULL || frame->left != UNTIL_BREAK) {
                    return -1;
                }
                if (frame->kind == KIND_OPEN_MAP && (frame->seen & 1)) {
                    return -1;
                }
                p++;
                depth--;
                if (item_done(stack, &depth)) {
                    return p;
                }
                continue;
            }
            if (major == 0 || major == 1 || major == 6) {
                return -1;
            }
            p++;
            if (depth >= limit) {
                return -1;
            }
            stack[depth].left = UNTIL_BREAK;
            stack[depth].kind = (major == 2 || major == 3) ? major : (major == 5 ? KIND_OPEN_MAP : KIND_ITEMS);
            stack[depth].seen = 0;
            depth++;
            continue;
        }
        uint64_t n;
        if (info < 24) {
            n = (uint64_t)info;
            p += 1;
        } else if (info <= 27) {
            int width = 1 << (info - 24);
            if (end - p - 1 < width) {
                return -1;
            }
            n = 0;
            for (int i = 1; i <= width; i++) {
                n = (n << 8) | data[p + i];
            }
            p += 1 + width;
        } else {
            return -1; /* additional info 28 to 30 is reserved */
        }
        if (major == 7 && info == 24 && n < 32) {
            return -1;
        }
        uint64_t left = (uint64_t)(end - p);
        if (major == 2 || major == 3) {
            if (n > left) {
                return -1;
            }
            if (major == 3 && !valid_text(data + p, (Py_ssize_t)n)) {
                return -1;
            }
            p += (Py_ssize_t)n;
        } else if (major == 4 || major == 5) {
            if (major == 5 && n > left / 2) {
                return -1;
            }
            uint64_t count = major == 4 ? n : 2 * n;
            if (count > left) {
                return -1;
            }
            if (count > 0) {
                if (depth >= limit) {
                    return -1;
                }
                stack[depth].left = (int64_t)count;
                stack[depth].kind = KIND_ITEMS;
                stack[depth].seen = 0;
                depth++;
                continue;
            }
        } else if (major == 6) {
            if (depth >= limit) {
                return -1;
            }
            stack[depth].left = 1;
            stack[depth].kind = KIND_ITEMS;
            stack[depth].seen = 0;
            depth++;
            continue;
        }
        if (item_done(stack, &depth)) {
            return p;
        }
    }
}

static PyObject *item_end(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos = 0;
    int enclosing = 0;
    if (!PyArg_ParseTuple(args, "y*|ni:item_end", &view, &pos, &enclosing)) {
        return NULL;
    }
    Py_ssize_t result = -1;
    if (pos >= 0 && pos <= view.len && enclosing >= 0 && enclosing <= MAX_DEPTH) {
        Frame stack[MAX_DEPTH]; /* 12 KB: the whole nesting budget, no allocation per call */
        result = scan((const unsigned char *)view.buf, view.len, pos, MAX_DEPTH - enclosing, stack);
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(result);
}

static PyMethodDef methods[] = {
    {"item_end", item_end, METH_VARARGS,
     "item_end(data, pos=0, enclosing=0) -> int\n\nThe offset just after the well-formed CBOR item that "
     "starts at `pos`, or -1 when there is none (ill-formed, truncated, or nested deeper than MAX_DEPTH when "
     "it lies inside `enclosing` open containers)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_wellformed",
    "Native well-formedness scan of one CBOR item (yes or no; scan.py says why not).", -1, methods,
};

PyMODINIT_FUNC PyInit__wellformed(void)
{
    PyObject *created = PyModule_Create(&module);
    if (created != NULL && PyModule_AddIntConstant(created, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(created);
        return NULL;
    }
    return created;
}
