/* whistle.journal._native: the journal's per-record hot loops in C (optional).
 *
 * The pure-Python paths in writer.py / readonly.py do exactly the same and are used when
 * this extension is not built (WHISTLE_PURE=1, no compiler). Both store and accept the
 * record format of segment.py byte for byte:
 *
 *   0 u32 length n | 4 u32 type_id | 8 u64 seq | 16 u64 ts_ns | 24 payload (n bytes)
 *   t = align4(24 + n): u32 crc32 of bytes [0, 24 + n) | t + 4: u32 commit marker
 *   record size = align8(t + 8)
 *
 * store_items writes each record in order: header, payload, zero padding, CRC, and then
 * the commit marker with a release store (no compiler or CPU may make the marker visible
 * before the bytes it commits), one record strictly after the other. A crash therefore
 * leaves whole records and at most one record without its marker, as the Python path does.
 * scan_records reads the marker with an acquire load before it reads what it commits.
 *
 * Every access is bounds-checked against the caller's limit, itself checked against the
 * buffer's length; offsets must be 8-aligned (records always are), so the marker's u32
 * is 4-aligned for the atomic load/store.
 *
 * The CRC is the standard reflected CRC-32 (polynomial 0xEDB88320, the one zlib.crc32
 * computes), slice-by-8 with tables built at import; the tests check it against zlib.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define REC_HDR_SIZE 24
#define COMMIT_MARK 0xC3A57E19u

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

static inline uint32_t get32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t get64(const unsigned char *p) {
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

static inline void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void put64(unsigned char *p, uint64_t v) {
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t crc32_buf(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n >= 8) {
        uint32_t lo = get32(p) ^ c;
        uint32_t hi = get32(p + 4);
        c = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
            crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
            crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
            crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) c = crc_table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* An int in [0, max] as uint64, or -1 (no Python error left set) when it is not one. */
static int as_u64(PyObject *o, uint64_t max, uint64_t *out) {
    if (!PyLong_Check(o)) return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    if (v > max) return -1;
    *out = (uint64_t)v;
    return 0;
}

static PyObject *crc32_py(PyObject *Py_UNUSED(self), PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    uint32_t c = crc32_buf((const unsigned char *)view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(c);
}

/* store_items(buf, off, limit, items, start, seq, ts, last) -> (count, end, last)
 *
 * Store records for items[start:] ((type_id, payload) tuples) from offset off, numbered
 * from seq, all stamped ts. Stops before an item it cannot take (not a 2-tuple, type_id
 * not an int in u32, payload not bytes/bytearray or longer than u32) or a record that
 * would end past limit: the caller's record loop takes that item (it rolls, or raises
 * the exact error). count: records stored; end: the next free offset; last: the offset
 * of the last record stored (the given last when none). */
static PyObject *store_items(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *buf, *items, *seq_o, *ts_o;
    Py_ssize_t off, limit, start, last;
    if (!PyArg_ParseTuple(args, "OnnOnOOn", &buf, &off, &limit, &items, &start, &seq_o,
                          &ts_o, &last))
        return NULL;
    if (!PyList_Check(items) && !PyTuple_Check(items)) {
        PyErr_SetString(PyExc_TypeError, "items must be a list or a tuple");
        return NULL;
    }
    uint64_t seq, ts;
    if (as_u64(seq_o, UINT64_MAX, &seq) < 0 || as_u64(ts_o, UINT64_MAX, &ts) < 0)
        return Py_BuildValue("(nnn)", (Py_ssize_t)0, off, last);
    Py_buffer view;
    if (PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE) < 0) return NULL;
    if (off < 0 || off % 8 || limit > view.len || off > limit || start < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "offset (8-aligned) or limit outside the buffer");
        return NULL;
    }
    unsigned char *base = (unsigned char *)view.buf;
    PyObject **cells = PySequence_Fast_ITEMS(items);
    Py_ssize_t k = PySequence_Fast_GET_SIZE(items);
    Py_ssize_t count = 0;
    for (Py_ssize_t i = start; i < k; i++) {
        PyObject *item = cells[i];
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) break;
        PyObject *tid_o = PyTuple_GET_ITEM(item, 0);
        PyObject *pay = PyTuple_GET_ITEM(item, 1);
        uint64_t tid;
        if (as_u64(tid_o, 0xFFFFFFFFu, &tid) < 0) break;
        const unsigned char *src;
        Py_ssize_t n;
        if (PyBytes_CheckExact(pay)) {
            src = (const unsigned char *)PyBytes_AS_STRING(pay);
            n = PyBytes_GET_SIZE(pay);
        } else if (PyByteArray_CheckExact(pay)) {
            src = (const unsigned char *)PyByteArray_AS_STRING(pay);
            n = PyByteArray_GET_SIZE(pay);
        } else {
            break;
        }
        if ((uint64_t)n > 0xFFFFFFFFu) break;
        Py_ssize_t body = REC_HDR_SIZE + n;
        Py_ssize_t trailer = (body + 3) & ~(Py_ssize_t)3;
        Py_ssize_t size = (trailer + 8 + 7) & ~(Py_ssize_t)7;
        if (off + size > limit) break;
        unsigned char *p = base + off;
        put32(p, (uint32_t)n);
        put32(p + 4, (uint32_t)tid);
        put64(p + 8, seq);
        put64(p + 16, ts);
        memcpy(p + REC_HDR_SIZE, src, (size_t)n);
        memset(p + body, 0, (size_t)(trailer - body));
        put32(p + trailer, crc32_buf(p, (size_t)body));
        /* the commit marker last: everything above is visible before it */
        __atomic_store_n((uint32_t *)(void *)(p + trailer + 4), COMMIT_MARK, __ATOMIC_RELEASE);
        last = off;
        off += size;
        seq++;
        count++;
    }
    PyBuffer_Release(&view);
    return Py_BuildValue("(nnn)", count, off, last);
}

/* scan_records(buf, off, limit, expect, skip, max_n, out, make, seg_id) -> (off, expect)
 *
 * Walk whole records from off while each one fits before limit, has its commit marker,
 * the sequence number expect, and a matching CRC; append those with seq >= skip to the
 * list out: the payload (bytes) when make is None, else make(seq, ts, type_id, payload,
 * seg_id, offset). Stops after max_n appended, or at the first record that is not whole
 * (the caller classifies it). Returns where it stopped and the seq expected there. */
static PyObject *scan_records(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *buf, *expect_o, *skip_o, *out, *make, *seg_id;
    Py_ssize_t off, limit, max_n;
    if (!PyArg_ParseTuple(args, "OnnOOnO!OO", &buf, &off, &limit, &expect_o, &skip_o, &max_n,
                          &PyList_Type, &out, &make, &seg_id))
        return NULL;
    uint64_t expect, skip;
    if (as_u64(expect_o, UINT64_MAX, &expect) < 0 || as_u64(skip_o, UINT64_MAX, &skip) < 0) {
        PyErr_SetString(PyExc_ValueError, "expect and skip must be ints in u64");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE) < 0) return NULL;
    if (off < 0 || off % 8 || limit > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "offset (8-aligned) or limit outside the buffer");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)view.buf;
    Py_ssize_t got = 0;
    int failed = 0;
    while (got < max_n && off + REC_HDR_SIZE + 8 <= limit) {
        const unsigned char *p = base + off;
        uint32_t n = get32(p);
        Py_ssize_t body = REC_HDR_SIZE + (Py_ssize_t)n;
        Py_ssize_t trailer = (body + 3) & ~(Py_ssize_t)3;
        if (off + trailer + 8 > limit) break;
        uint32_t mark =
            __atomic_load_n((const uint32_t *)(const void *)(p + trailer + 4), __ATOMIC_ACQUIRE);
        if (mark != COMMIT_MARK) break;
        uint64_t seq = get64(p + 8);
        if (seq != expect) break;
        if (get32(p + trailer) != crc32_buf(p, (size_t)body)) break;
        if (seq >= skip) {
            PyObject *payload = PyBytes_FromStringAndSize((const char *)p + REC_HDR_SIZE, n);
            if (payload == NULL) {
                failed = 1;
                break;
            }
            PyObject *item = payload;
            if (make != Py_None) {
                PyObject *a[6];
                a[0] = PyLong_FromUnsignedLongLong(seq);
                a[1] = PyLong_FromUnsignedLongLong(get64(p + 16));
                a[2] = PyLong_FromUnsignedLong(get32(p + 4));
                a[3] = payload;
                a[4] = seg_id;
                a[5] = PyLong_FromSsize_t(off);
                item = NULL;
                if (a[0] && a[1] && a[2] && a[5]) item = PyObject_Vectorcall(make, a, 6, NULL);
                Py_XDECREF(a[0]);
                Py_XDECREF(a[1]);
                Py_XDECREF(a[2]);
                Py_XDECREF(a[5]);
                Py_DECREF(payload);
                if (item == NULL) {
                    failed = 1;
                    break;
                }
            }
            int rc = PyList_Append(out, item);
            Py_DECREF(item);
            if (rc < 0) {
                failed = 1;
                break;
            }
            got++;
        }
        off += (trailer + 8 + 7) & ~(Py_ssize_t)7;
        expect = seq + 1;
    }
    PyBuffer_Release(&view);
    if (failed) return NULL;
    return Py_BuildValue("(nK)", off, (unsigned long long)expect);
}

static PyMethodDef methods[] = {
    {"store_items", store_items, METH_VARARGS, "Store journal records (see _native.c)."},
    {"scan_records", scan_records, METH_VARARGS, "Read whole journal records (see _native.c)."},
    {"crc32", crc32_py, METH_O, "CRC-32 of a buffer (the value zlib.crc32 gives)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "whistle.journal._native",
    "The journal's per-record hot loops in C (optional; see _native.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__native(void) {
    crc_init();
    return PyModule_Create(&module);
}
