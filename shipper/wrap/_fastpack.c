/* logwrap's hot path in C: JSON log lines straight to packed Forward entries.
 *
 * The pure-Python path decodes every JSON line into a dict, adds logwrap's fields, parses the
 * time and encodes the dict again as msgpack: about 2 us a line, half of it in building and
 * freeing Python objects that live for one call. Here a line is transcoded from JSON to msgpack
 * in one pass, as Fluent Bit does, with the fields, the id and the event time written in the
 * same pass.
 *
 * The C path only takes what it is sure of: a line that starts with "{" and is a JSON object
 * in the common subset (valid UTF-8, 64-bit integers, nesting under MAX_DEPTH, no lone
 * surrogates) whose time is absent or "YYYY-MM-DDTHH:MM:SS[.fffffffff]Z". Every other item
 * goes, in order, to the Python callback ``slow(item, event_id) -> bytes``, which builds it
 * exactly as the pure-Python path does. So the two paths agree by construction, and a test
 * compares them on random input.
 *
 * The same pass applies the filters the C side can do (shipper.processing.fastpass), stops
 * writing once --throttle's quota is spent, and reads nginx, apache and gunicorn access lines
 * when that preset is the first --parse (access_entry); the rest of processing is Python's.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE /* memmem */
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64 /* levels of a record, itself included: forward.nesting.MAX_NESTING */
#define MAX_KEYS 16 /* time keys */
#define MAX_MAP_KEYS 64 /* keys of one JSON object; more go to Python */
#define ENTRY_HEAD 11 /* fixarray(2), fixext8 of type 0, the EventTime's 8 bytes */

/* The body being written: a bytes object, sized once from an estimate and shrunk at the end,
 * so a call makes one allocation of about the size it returns, and no copy. */
typedef struct {
    PyObject *bytes;
    char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Out;

typedef enum { OK = 0, NOT_MINE = 1, FAILED = 2 } Status; /* FAILED: a Python error is set */

static int reserve(Out *out, Py_ssize_t more) {
    if (out->len + more <= out->cap)
        return 0;
    Py_ssize_t cap = out->cap > 4096 ? out->cap : 4096;
    while (cap < out->len + more)
        cap += cap / 2;
    if (out->bytes == NULL)
        out->bytes = PyBytes_FromStringAndSize(NULL, cap);
    else if (_PyBytes_Resize(&out->bytes, cap) < 0)
        out->bytes = NULL; /* freed by _PyBytes_Resize */
    if (out->bytes == NULL)
        return -1;
    out->data = PyBytes_AS_STRING(out->bytes);
    out->cap = cap;
    return 0;
}

/* What a call is likely to write: the items' size plus logwrap's fields per record. */
static Py_ssize_t estimate(PyObject *items, Py_ssize_t start, Py_ssize_t count, Py_ssize_t per_record,
                           Py_ssize_t limit) {
    Py_ssize_t size = 0, end = PyList_GET_SIZE(items);
    for (Py_ssize_t i = start; i < end && i - start < count && size < limit; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        size += per_record + (PyBytes_CheckExact(item) ? PyBytes_GET_SIZE(item) : 256);
    }
    return size;
}

static int put(Out *out, const void *bytes, Py_ssize_t size) {
    if (reserve(out, size) < 0)
        return -1;
    memcpy(out->data + out->len, bytes, size);
    out->len += size;
    return 0;
}

static void store_be(char *at, uint64_t value, int size) {
    for (int i = size - 1; i >= 0; i--, value >>= 8)
        at[i] = (char)(value & 0xFF);
}

static int put_be(Out *out, unsigned char head, uint64_t value, int size) {
    if (reserve(out, 1 + size) < 0)
        return -1;
    out->data[out->len] = (char)head;
    store_be(out->data + out->len + 1, value, size);
    out->len += 1 + size;
    return 0;
}

/* Containers and unescaped strings learn their size at their end: 5 bytes are reserved for
 * the header, then the header is written in its smallest form and the body moved up. */
enum { MAP, ARRAY, STR };

static void close_header(Out *out, Py_ssize_t at, uint64_t n, int kind) {
    unsigned char head[5];
    int size;
    if (kind == STR && n < 32) {
        head[0] = 0xA0 | (unsigned char)n, size = 1;
    } else if (kind == STR && n < 256) {
        head[0] = 0xD9, head[1] = (unsigned char)n, size = 2;
    } else if (kind != STR && n < 16) {
        head[0] = (kind == MAP ? 0x80 : 0x90) | (unsigned char)n, size = 1;
    } else if (n < 65536) {
        head[0] = kind == MAP ? 0xDE : kind == ARRAY ? 0xDC : 0xDA, size = 3;
        store_be((char *)head + 1, n, 2);
    } else {
        head[0] = kind == MAP ? 0xDF : kind == ARRAY ? 0xDD : 0xDB, size = 5;
        store_be((char *)head + 1, n, 4);
    }
    Py_ssize_t body = at + 5;
    memmove(out->data + at + size, out->data + body, out->len - body);
    memcpy(out->data + at, head, size);
    out->len -= 5 - size;
}

static Py_ssize_t open_header(Out *out) {
    if (reserve(out, 5) < 0)
        return -1;
    out->len += 5;
    return out->len - 5;
}

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
} Input;

static void skip_space(Input *in) {
    while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\n' || *in->p == '\r'))
        in->p++;
}

/* The length of one valid UTF-8 character at p (not overlong, no surrogates, <= U+10FFFF),
 * or 0. */
static int utf8_char(const unsigned char *p, const unsigned char *end) {
    unsigned char c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return end - p >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *value) {
    if (end - p < 4)
        return -1;
    *value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        unsigned digit = c >= '0' && c <= '9' ? c - '0'
                         : c >= 'a' && c <= 'f' ? c - 'a' + 10
                         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                : 16;
        if (digit == 16)
            return -1;
        *value = *value * 16 + digit;
    }
    return 0;
}

static int put_utf8(Out *out, unsigned cp) {
    char bytes[4];
    int size;
    if (cp < 0x80)
        bytes[0] = (char)cp, size = 1;
    else if (cp < 0x800)
        bytes[0] = (char)(0xC0 | cp >> 6), bytes[1] = (char)(0x80 | (cp & 0x3F)), size = 2;
    else if (cp < 0x10000)
        bytes[0] = (char)(0xE0 | cp >> 12), bytes[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
        bytes[2] = (char)(0x80 | (cp & 0x3F)), size = 3;
    else
        bytes[0] = (char)(0xF0 | cp >> 18), bytes[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
        bytes[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), bytes[3] = (char)(0x80 | (cp & 0x3F)), size = 4;
    return put(out, bytes, size);
}

static Status escape(Input *in, Out *out) {
    const unsigned char *p = in->p + 1; /* after the backslash */
    if (p >= in->end)
        return NOT_MINE;
    static const char simple[] = "\"\\/bfnrt";
    static const char meaning[] = "\"\\/\b\f\n\r\t";
    const char *hit = *p ? strchr(simple, *p) : NULL;
    if (hit != NULL) {
        in->p = p + 1;
        return put(out, &meaning[hit - simple], 1) < 0 ? FAILED : OK;
    }
    unsigned cp, low;
    if (*p != 'u' || hex4(p + 1, in->end, &cp) < 0)
        return NOT_MINE;
    p += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return NOT_MINE; /* a lone low surrogate */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (in->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, in->end, &low) < 0 ||
            low < 0xDC00 || low > 0xDFFF)
            return NOT_MINE;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        p += 6;
    }
    in->p = p;
    return put_utf8(out, cp) < 0 ? FAILED : OK;
}

/* A JSON string (in->p at its opening quote) as a msgpack str. *plain tells whether it had no
 * escapes, so its text is the input between the quotes. */
static Status string(Input *in, Out *out, int *plain) {
    Py_ssize_t at = open_header(out);
    if (at < 0)
        return FAILED;
    in->p++;
    *plain = 1;
    for (;;) {
        const unsigned char *run = in->p;
        while (in->p < in->end && *in->p >= 0x20 && *in->p != '"' && *in->p != '\\' && *in->p < 0x80)
            in->p++;
        if (put(out, run, in->p - run) < 0)
            return FAILED;
        if (in->p >= in->end || *in->p < 0x20)
            return NOT_MINE;
        if (*in->p == '"')
            break;
        Status status;
        if (*in->p == '\\') {
            *plain = 0;
            status = escape(in, out);
        } else {
            int size = utf8_char(in->p, in->end);
            status = size == 0 ? NOT_MINE : put(out, in->p, size) < 0 ? FAILED : OK;
            in->p += size;
        }
        if (status != OK)
            return status;
    }
    in->p++;
    close_header(out, at, (uint64_t)(out->len - at - 5), STR);
    return OK;
}

/* The text of the str just written at out->data + at, without its header. */
static const char *str_text(const Out *out, Py_ssize_t at, Py_ssize_t *size) {
    unsigned char head = (unsigned char)out->data[at];
    Py_ssize_t skip = (head & 0xE0) == 0xA0 ? 1 : head == 0xD9 ? 2 : head == 0xDA ? 3 : 5;
    *size = out->len - at - skip;
    return out->data + at + skip;
}

/* The keys of one map so far, to hand a map with a repeated key to Python: msgspec keeps the
 * last value at the first key's place, and a msgpack map should not repeat a key. */
typedef struct {
    Py_ssize_t at[MAX_MAP_KEYS];
    Py_ssize_t size[MAX_MAP_KEYS];
    int count;
} Keys;

/* Remember the key just written at out->data + key_at: NOT_MINE when it repeats one, or when
 * the map has more keys than are checked here. */
static Status new_key(Keys *keys, const Out *out, Py_ssize_t key_at) {
    Py_ssize_t size;
    const char *text = str_text(out, key_at, &size);
    for (int i = 0; i < keys->count; i++)
        if (keys->size[i] == size && memcmp(out->data + keys->at[i], text, size) == 0)
            return NOT_MINE;
    if (keys->count == MAX_MAP_KEYS)
        return NOT_MINE;
    keys->at[keys->count] = text - out->data;
    keys->size[keys->count++] = size;
    return OK;
}

static int is_digit(const Input *in) { return in->p < in->end && *in->p >= '0' && *in->p <= '9'; }

static inline __attribute__((always_inline)) Status number(Input *in, Out *out) {
    const unsigned char *start = in->p;
    int negative = *in->p == '-';
    in->p += negative;
    if (!is_digit(in))
        return NOT_MINE;
    if (*in->p == '0' && in->p + 1 < in->end && in->p[1] >= '0' && in->p[1] <= '9')
        return NOT_MINE; /* a leading zero */
    const unsigned char *digits = in->p;
    while (is_digit(in))
        in->p++;
    Py_ssize_t count = in->p - digits;
    int real = 0;
    if (in->p < in->end && *in->p == '.') {
        in->p++, real = 1;
        if (!is_digit(in))
            return NOT_MINE;
        while (is_digit(in))
            in->p++;
    }
    if (in->p < in->end && (*in->p == 'e' || *in->p == 'E')) {
        in->p++, real = 1;
        if (in->p < in->end && (*in->p == '+' || *in->p == '-'))
            in->p++;
        if (!is_digit(in))
            return NOT_MINE;
        while (is_digit(in))
            in->p++;
    }
    if (real) {
        char text[64];
        Py_ssize_t size = in->p - start;
        if (size >= (Py_ssize_t)sizeof text)
            return NOT_MINE;
        memcpy(text, start, size);
        text[size] = '\0';
        double value = PyOS_string_to_double(text, NULL, NULL); /* locale-free, correctly rounded */
        if (value == -1.0 && PyErr_Occurred())
            return FAILED;
        if (Py_IS_INFINITY(value))
            return NOT_MINE;
        uint64_t bits;
        memcpy(&bits, &value, sizeof bits);
        return put_be(out, 0xCB, bits, 8) < 0 ? FAILED : OK;
    }
    if (count > 18)
        return NOT_MINE; /* beyond what surely fits 63 bits: Python decides */
    uint64_t value = 0;
    for (const unsigned char *d = digits; d < digits + count; d++)
        value = value * 10 + (uint64_t)(*d - '0');
    if (!negative || value == 0) {
        if (value < 128)
            return put(out, &(unsigned char){(unsigned char)value}, 1) < 0 ? FAILED : OK;
        int size = value < 256 ? 1 : value < 65536 ? 2 : value <= 0xFFFFFFFFu ? 4 : 8;
        unsigned char head = size == 1 ? 0xCC : size == 2 ? 0xCD : size == 4 ? 0xCE : 0xCF;
        return put_be(out, head, value, size) < 0 ? FAILED : OK;
    }
    int64_t signed_value = -(int64_t)value;
    if (signed_value >= -32)
        return put(out, &(unsigned char){(unsigned char)(signed_value & 0xFF)}, 1) < 0 ? FAILED : OK;
    int size = signed_value >= -128 ? 1 : signed_value >= -32768 ? 2 : signed_value >= INT32_MIN ? 4 : 8;
    unsigned char head = size == 1 ? 0xD0 : size == 2 ? 0xD1 : size == 4 ? 0xD2 : 0xD3;
    return put_be(out, head, (uint64_t)signed_value, size) < 0 ? FAILED : OK;
}

static Status literal(Input *in, Out *out, const char *word, unsigned char code) {
    size_t size = strlen(word);
    if ((size_t)(in->end - in->p) < size || memcmp(in->p, word, size) != 0)
        return NOT_MINE;
    in->p += size;
    return put(out, &code, 1) < 0 ? FAILED : OK;
}

static Status value(Input *in, Out *out, int depth);

static Status container(Input *in, Out *out, int depth, int kind) {
    if (depth >= MAX_DEPTH)
        return NOT_MINE;
    Py_ssize_t at = open_header(out);
    if (at < 0)
        return FAILED;
    char close = kind == MAP ? '}' : ']';
    uint64_t count = 0;
    Keys keys; /* only count needs a value: an initializer would clear all 1 KiB of it each time */
    keys.count = 0;
    in->p++;
    skip_space(in);
    if (in->p < in->end && *in->p == close) {
        in->p++;
        close_header(out, at, 0, kind);
        return OK;
    }
    for (;;) {
        Status status;
        int plain;
        if (kind == MAP) {
            Py_ssize_t key_at = out->len;
            if (in->p >= in->end || *in->p != '"')
                return NOT_MINE;
            if ((status = string(in, out, &plain)) != OK || (status = new_key(&keys, out, key_at)) != OK)
                return status;
            skip_space(in);
            if (in->p >= in->end || *in->p != ':')
                return NOT_MINE;
            in->p++;
            skip_space(in);
        }
        if ((status = value(in, out, depth + 1)) != OK)
            return status;
        count++;
        skip_space(in);
        if (in->p < in->end && *in->p == ',') {
            in->p++;
            skip_space(in);
            continue;
        }
        if (in->p < in->end && *in->p == close) {
            in->p++;
            close_header(out, at, count, kind);
            return OK;
        }
        return NOT_MINE;
    }
}

static Status value(Input *in, Out *out, int depth) {
    if (in->p >= in->end)
        return NOT_MINE;
    int plain;
    switch (*in->p) {
    case '{':
        return container(in, out, depth, MAP);
    case '[':
        return container(in, out, depth, ARRAY);
    case '"':
        return string(in, out, &plain);
    case 't':
        return literal(in, out, "true", 0xC3);
    case 'f':
        return literal(in, out, "false", 0xC2);
    case 'n':
        return literal(in, out, "null", 0xC0);
    default:
        return number(in, out);
    }
}

static int tuple_of_bytes(PyObject *keys, const char *name, Py_ssize_t limit);

/* ---- Tallies: the metrics found in records (shipper.metrics.tally owns their meaning) ----
 *
 * Python says, per call, which fields to watch and where to count them. A record's watched
 * values are read back from the msgpack just written (escapes already decoded), after the
 * record is known to be taken here: a value is counted by its msgpack bytes in a dict, bounded
 * by max_series (a new key past it counts as overflow), and a duration goes into a histogram
 * buffer. No Python code runs per line, and the slow path counts the same way in Python. */
#define MAX_WATCH 16
#define MAX_BOUNDS 32
enum { LEVEL, ERROR_TYPE, METHOD, STATUS, DURATION, SLOTS };
enum { LEVELS_TABLE, ERRORS_TABLE, REQUESTS_TABLE, TABLES };

typedef struct {
    int count;                  /* watched paths */
    int slot[MAX_WATCH];
    double scale[MAX_WATCH];    /* a duration's unit in seconds */
    PyObject *path[MAX_WATCH];  /* tuple of bytes: the top-level key, then keys of nested maps */
    const char *first[MAX_WATCH]; /* path[i][0] as text */
    Py_ssize_t first_size[MAX_WATCH];
    uint64_t seen[4];           /* a 256-bit filter of the top-level keys: key_bit() set for each */
    PyObject *tables[TABLES];   /* dicts: msgpack bytes of the value -> count */
    PyObject *overflow;         /* dict: table index -> values not counted for want of room */
    Py_ssize_t max_series;      /* raw values per table */
    Py_buffer histogram;        /* doubles: a count per bucket (the bounds and +Inf), then the sum */
    Py_buffer bounds;           /* doubles, ascending */
    PyObject *samples;          /* list of durations in seconds, up to max_samples */
    Py_ssize_t max_samples;
    /* Per table, the last value counted into its dict and how many more of it came since: a
     * run of equal values (a log's levels mostly are) costs a memcmp each, no Python call. */
    PyObject *run_key[TABLES];
    long long run_count[TABLES];
    PyObject *owner; /* the arguments it was made from: they keep every borrowed object alive */
} Tally;

typedef struct {
    uint32_t mask;            /* bit i: watched path i's top-level key is in the record */
    Py_ssize_t at[MAX_WATCH]; /* then where its value is in out */
    Py_ssize_t end[MAX_WATCH];
} Found;

static uint64_t load_be(const unsigned char *p, int size) {
    uint64_t value = 0;
    for (int i = 0; i < size; i++)
        value = value << 8 | p[i];
    return value;
}

/* Where the msgpack value at p ends, or NULL when it is cut short or of a kind not written here. */
static const unsigned char *mp_skip_any(const unsigned char *p, const unsigned char *end);

static inline const unsigned char *mp_skip(const unsigned char *p, const unsigned char *end) {
    if (p < end && (*p <= 0x7F || *p >= 0xE0 || *p == 0xC0 || *p == 0xC2 || *p == 0xC3))
        return p + 1; /* the common small scalars, inline */
    if (p < end && (*p & 0xE0) == 0xA0)
        return end - p > (*p & 0x1F) ? p + 1 + (*p & 0x1F) : NULL;
    return mp_skip_any(p, end);
}

static const unsigned char *mp_skip_any(const unsigned char *p, const unsigned char *end) {
    uint64_t pending = 1;
    while (pending > 0) {
        if (p >= end)
            return NULL;
        unsigned char h = *p;
        uint64_t items = 0, body = 0;
        int head = 1;
        if (h <= 0x7F || h >= 0xE0 || h == 0xC0 || h == 0xC2 || h == 0xC3)
            ;
        else if ((h & 0xE0) == 0xA0)
            body = h & 0x1F;
        else if ((h & 0xF0) == 0x80)
            items = 2 * (uint64_t)(h & 0x0F);
        else if ((h & 0xF0) == 0x90)
            items = h & 0x0F;
        else if (h >= 0xCC && h <= 0xD3)
            body = 1u << ((h - 0xCC) & 3);
        else if (h == 0xCB)
            body = 8;
        else if (h >= 0xD9 && h <= 0xDF) {
            int size = h == 0xD9 ? 1 : (h == 0xDA || h == 0xDC || h == 0xDE) ? 2 : 4;
            if (end - p < 1 + size)
                return NULL;
            uint64_t n = load_be(p + 1, size);
            head = 1 + size;
            if (h <= 0xDB)
                body = n;
            else
                items = h >= 0xDE ? 2 * n : n;
        } else
            return NULL;
        if ((uint64_t)(end - p) < head + body)
            return NULL;
        p += head + body;
        pending += items - 1;
    }
    return p;
}

/* The text of a msgpack str at p, or NULL when p is not a str. */
static const unsigned char *mp_str(const unsigned char *p, const unsigned char *end, Py_ssize_t *size) {
    if (p >= end)
        return NULL;
    unsigned char h = *p;
    int head = (h & 0xE0) == 0xA0 ? 1 : h == 0xD9 ? 2 : h == 0xDA ? 3 : h == 0xDB ? 5 : 0;
    if (head == 0 || end - p < head)
        return NULL;
    *size = head == 1 ? (h & 0x1F) : (Py_ssize_t)load_be(p + 1, head - 1);
    return end - p - head >= *size ? p + head : NULL;
}

/* Follow path[1:] through nested maps from the value in [*at, *end); 0 when a key is missing. */
static int resolve(const unsigned char **at, const unsigned char **end, PyObject *path) {
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(path); i++) {
        PyObject *want = PyTuple_GET_ITEM(path, i);
        const unsigned char *p = *at, *found = NULL, *found_end = NULL;
        unsigned char h = *p;
        int head = (h & 0xF0) == 0x80 ? 1 : h == 0xDE ? 3 : h == 0xDF ? 5 : 0;
        if (head == 0 || *end - p < head)
            return 0;
        uint64_t pairs = head == 1 ? (uint64_t)(h & 0x0F) : load_be(p + 1, head - 1);
        for (p += head; pairs > 0 && p != NULL; pairs--) {
            Py_ssize_t size = 0; /* set by mp_str when it finds a str; read only then */
            const unsigned char *text = mp_str(p, *end, &size);
            const unsigned char *value = mp_skip(p, *end);
            const unsigned char *next = value == NULL ? NULL : mp_skip(value, *end);
            if (next != NULL && text != NULL && size == PyBytes_GET_SIZE(want) &&
                memcmp(text, PyBytes_AS_STRING(want), size) == 0) {
                found = value, found_end = next;
                break;
            }
            p = next;
        }
        if (found == NULL)
            return 0;
        *at = found, *end = found_end;
    }
    return 1;
}

/* A msgpack int or float as a double; 0 when the value is another kind. */
static int mp_number(const unsigned char *p, const unsigned char *end, double *value) {
    unsigned char h = *p;
    if (h <= 0x7F || h >= 0xE0) {
        *value = (double)(int8_t)h;
        return 1;
    }
    int size = h >= 0xCC && h <= 0xD3 ? 1 << ((h - 0xCC) & 3) : h == 0xCB ? 8 : 0;
    if (size == 0 || end - p < 1 + size)
        return 0;
    uint64_t bits = load_be(p + 1, size);
    if (h == 0xCB)
        memcpy(value, &bits, 8);
    else if (h <= 0xCF)
        *value = (double)bits;
    else
        *value = size == 1 ? (int8_t)bits : size == 2 ? (int16_t)bits : size == 4 ? (int32_t)bits : (double)(int64_t)bits;
    return 1;
}

/* dict[key] += n, from 0 when the key is new. */
static int increment(PyObject *dict, PyObject *key, long long n) {
    PyObject *old = PyDict_GetItemWithError(dict, key);
    if (old == NULL && PyErr_Occurred())
        return -1;
    long long now = old == NULL ? 0 : PyLong_AsLongLong(old);
    if (now == -1 && PyErr_Occurred())
        return -1;
    PyObject *next = PyLong_FromLongLong(now + n);
    int failed = next == NULL || PyDict_SetItem(dict, key, next) < 0;
    Py_XDECREF(next);
    return failed ? -1 : 0;
}

static int end_run(Tally *t, int table) {
    int failed = t->run_count[table] > 0 && increment(t->tables[table], t->run_key[table], t->run_count[table]) < 0;
    Py_CLEAR(t->run_key[table]);
    t->run_count[table] = 0;
    return failed ? -1 : 0;
}

static int same_key(PyObject *key, int pair, const unsigned char *a, Py_ssize_t a_size, const unsigned char *b,
                    Py_ssize_t b_size) {
    const char *k = PyBytes_AS_STRING(key);
    if (PyBytes_GET_SIZE(key) != pair + a_size + (pair ? b_size : 0))
        return 0;
    return memcmp(k + pair, a, a_size) == 0 && (!pair || memcmp(k + pair + a_size, b, b_size) == 0);
}

/* One more of a value in a table, keyed by its msgpack bytes (two values: a msgpack array of
 * both); a new value past max_series counts in the table's overflow instead. */
static int count_value(Tally *t, int table, const unsigned char *a, Py_ssize_t a_size, const unsigned char *b,
                       Py_ssize_t b_size) {
    int pair = b != NULL;
    if (t->run_key[table] != NULL && same_key(t->run_key[table], pair, a, a_size, b, b_size)) {
        t->run_count[table]++;
        return 0;
    }
    if (end_run(t, table) < 0)
        return -1;
    PyObject *key = PyBytes_FromStringAndSize(NULL, pair + a_size + (pair ? b_size : 0));
    if (key == NULL)
        return -1;
    char *k = PyBytes_AS_STRING(key);
    if (pair)
        *k++ = (char)0x92;
    memcpy(k, a, a_size);
    if (pair)
        memcpy(k + a_size, b, b_size);
    PyObject *dict = t->tables[table];
    int room = PyDict_GET_SIZE(dict) < t->max_series ? 1 : PyDict_Contains(dict, key);
    int failed = room < 0;
    if (room > 0 && !(failed = increment(dict, key, 1) < 0)) {
        t->run_key[table] = key; /* in the dict for good: later ones of it can be added at the end */
        return 0;
    }
    if (room == 0) {
        PyObject *index = PyLong_FromLong(table);
        failed = index == NULL || increment(t->overflow, index, 1) < 0;
        Py_XDECREF(index);
    }
    Py_DECREF(key);
    return failed ? -1 : 0;
}

static int observe_duration(Tally *t, double seconds) {
    const double *bounds = t->bounds.buf;
    double *histogram = t->histogram.buf;
    Py_ssize_t count = t->bounds.len / (Py_ssize_t)sizeof(double), bucket = 0;
    while (bucket < count && seconds > bounds[bucket])
        bucket++;
    histogram[bucket] += 1;
    histogram[count + 1] += seconds;
    if (PyList_GET_SIZE(t->samples) >= t->max_samples)
        return 0;
    PyObject *sample = PyFloat_FromDouble(seconds);
    int failed = sample == NULL || PyList_Append(t->samples, sample) < 0;
    Py_XDECREF(sample);
    return failed ? -1 : 0;
}

/* Count what one record holds: its level, its error type, and for an HTTP access record
 * (a method and a status) the request and its duration. */
static int observe(Tally *t, const Found *found, const char *data) {
    const unsigned char *at[SLOTS] = {NULL}, *end[SLOTS] = {NULL};
    double scale[SLOTS] = {0};
    for (uint32_t mask = found->mask; mask != 0; mask &= mask - 1) {
        int i = __builtin_ctz(mask); /* in slot order: a request's method is known before its status */
        int slot = t->slot[i];
        if (at[slot] != NULL || (slot > METHOD && at[METHOD] == NULL))
            continue;
        const unsigned char *a = (const unsigned char *)data + found->at[i];
        const unsigned char *e = (const unsigned char *)data + found->end[i];
        if (resolve(&a, &e, t->path[i]))
            at[slot] = a, end[slot] = e, scale[slot] = t->scale[i];
    }
    if (at[LEVEL] != NULL && count_value(t, LEVELS_TABLE, at[LEVEL], end[LEVEL] - at[LEVEL], NULL, 0) < 0)
        return -1;
    if (at[ERROR_TYPE] != NULL &&
        count_value(t, ERRORS_TABLE, at[ERROR_TYPE], end[ERROR_TYPE] - at[ERROR_TYPE], NULL, 0) < 0)
        return -1;
    if (at[METHOD] == NULL || at[STATUS] == NULL)
        return 0;
    if (count_value(t, REQUESTS_TABLE, at[METHOD], end[METHOD] - at[METHOD], at[STATUS], end[STATUS] - at[STATUS]) < 0)
        return -1;
    double duration;
    if (at[DURATION] != NULL && mp_number(at[DURATION], end[DURATION], &duration) && duration >= 0)
        return observe_duration(t, duration * scale[DURATION]);
    return 0;
}

/* The watched top-level keys: note where the value of each one the key starts is. */
static unsigned key_bit(const char *key, Py_ssize_t size) {
    return size == 0 ? 0 : (unsigned)(size * 31 + (unsigned char)key[0] + (unsigned char)key[size - 1] * 7) & 255;
}

static void watch_key(const Tally *t, Found *found, const char *key, Py_ssize_t size, Py_ssize_t at,
                      Py_ssize_t end) {
    unsigned bit = key_bit(key, size);
    if (!(t->seen[bit >> 6] >> (bit & 63) & 1))
        return; /* most keys: no watched key has this length and these end letters */
    for (int i = 0; i < t->count; i++)
        if (t->first_size[i] == size && memcmp(t->first[i], key, size) == 0)
            found->mask |= 1u << i, found->at[i] = at, found->end[i] = end;
}

/* Add the runs' counts to the dicts: at the end of every call, so Python reads whole counts. */
static int end_runs(Tally *t) {
    int failed = 0;
    for (int table = 0; table < TABLES; table++)
        failed |= end_run(t, table) < 0;
    return failed ? -1 : 0;
}

#define TALLY_CAPSULE "shipper.wrap._fastpack.Tally"

static void free_tally(PyObject *capsule) {
    Tally *t = PyCapsule_GetPointer(capsule, TALLY_CAPSULE);
    if (t == NULL)
        return;
    for (int table = 0; table < TABLES; table++)
        Py_CLEAR(t->run_key[table]);
    if (t->histogram.obj != NULL)
        PyBuffer_Release(&t->histogram);
    if (t->bounds.obj != NULL)
        PyBuffer_Release(&t->bounds);
    Py_XDECREF(t->owner);
    PyMem_Free(t);
}

/* args = (watch, tables, overflow, max_series, histogram, bounds, samples, max_samples), where
 * watch holds (slot, scale, path) triples; see shipper.metrics.tally. */
static int parse_tally(PyObject *arg, Tally *t) {
    PyObject *watch, *tables;
    if (!PyArg_ParseTuple(arg, "O!O!O!nw*y*O!n:tally", &PyTuple_Type, &watch, &PyTuple_Type, &tables,
                          &PyDict_Type, &t->overflow, &t->max_series, &t->histogram, &t->bounds,
                          &PyList_Type, &t->samples, &t->max_samples))
        return -1;
    Py_ssize_t bounds = t->bounds.len / (Py_ssize_t)sizeof(double);
    if (PyTuple_GET_SIZE(watch) > MAX_WATCH || PyTuple_GET_SIZE(tables) != TABLES ||
        bounds > MAX_BOUNDS ||
        t->histogram.len != (bounds + 2) * (Py_ssize_t)sizeof(double)) {
        PyErr_SetString(PyExc_ValueError, "tally: wrong shape");
        return -1;
    }
    for (int i = 0; i < TABLES; i++) {
        t->tables[i] = PyTuple_GET_ITEM(tables, i);
        if (!PyDict_Check(t->tables[i])) {
            PyErr_SetString(PyExc_TypeError, "tally: tables must be dicts");
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(watch); i++, t->count++) {
        PyObject *path;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(watch, i), "idO!:watch", &t->slot[i], &t->scale[i],
                              &PyTuple_Type, &path) ||
            tuple_of_bytes(path, "path", MAX_DEPTH) < 0)
            return -1;
        if (t->slot[i] < 0 || t->slot[i] >= SLOTS || PyTuple_GET_SIZE(path) == 0) {
            PyErr_SetString(PyExc_ValueError, "tally: bad watch entry");
            return -1;
        }
        t->path[i] = path;
        t->first[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(path, 0));
        t->first_size[i] = PyBytes_GET_SIZE(PyTuple_GET_ITEM(path, 0));
        unsigned bit = key_bit(t->first[i], t->first_size[i]);
        t->seen[bit >> 6] |= (uint64_t)1 << (bit & 63);
    }
    return 0;
}

/* ---- Filters: the part of shipper.processing.filters the C pass does ----
 *
 * Python compiles the filters into (kind, key, arg) entries, and only when their order cannot
 * matter (shipper.processing.fastpass): a top-level key is removed, renamed in place, or its
 * string value matched exactly (arg: the bytes) or by a regex (arg: the pattern's search). A
 * key that names a nested field's parent (PREFIX), a matched field that is not a string, and
 * a renamed key that collides with another go to Python, which decides. */
#define MAX_FILTERS 32
enum {
    F_PREFIX, F_REMOVE, F_RENAME, F_DROP_EXACT, F_KEEP_EXACT, F_DROP_SEARCH, F_KEEP_SEARCH,
    F_DROP_STARTS, F_KEEP_STARTS, F_DROP_CONTAINS, F_KEEP_CONTAINS /* a regex that finds a literal */
};

typedef struct {
    int count;
    int kind[MAX_FILTERS];
    const char *key[MAX_FILTERS];
    Py_ssize_t key_size[MAX_FILTERS];
    const char *text[MAX_FILTERS]; /* the exact value, or the new name */
    Py_ssize_t text_size[MAX_FILTERS];
    PyObject *search[MAX_FILTERS]; /* borrowed from the call's arguments */
} Filters;

static int parse_filters(PyObject *arg, Filters *f) {
    f->count = 0;
    if (arg == Py_None)
        return 0;
    if (!PyTuple_Check(arg) || PyTuple_GET_SIZE(arg) > MAX_FILTERS) {
        PyErr_Format(PyExc_ValueError, "filters must be a tuple of at most %d entries", MAX_FILTERS);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(arg); i++) {
        PyObject *entry = PyTuple_GET_ITEM(arg, i), *key, *value;
        int kind;
        if (!PyTuple_Check(entry) || !PyArg_ParseTuple(entry, "iSO", &kind, &key, &value))
            return PyErr_Occurred() ? -1 : (PyErr_SetString(PyExc_TypeError, "a filter is (kind, key, arg)"), -1);
        int search = kind == F_DROP_SEARCH || kind == F_KEEP_SEARCH;
        int text = kind == F_RENAME || kind == F_DROP_EXACT || kind == F_KEEP_EXACT || kind >= F_DROP_STARTS;
        if (kind < F_PREFIX || kind > F_KEEP_CONTAINS || (search && !PyCallable_Check(value)) ||
            (text && !PyBytes_Check(value))) {
            PyErr_Format(PyExc_TypeError, "filter %zd: bad kind or argument", i);
            return -1;
        }
        f->kind[i] = kind;
        f->key[i] = PyBytes_AS_STRING(key);
        f->key_size[i] = PyBytes_GET_SIZE(key);
        f->text[i] = text ? PyBytes_AS_STRING(value) : NULL;
        f->text_size[i] = text ? PyBytes_GET_SIZE(value) : 0;
        f->search[i] = search ? value : NULL;
        f->count++;
    }
    return 0;
}

/* Whether the str value at out->data + at (up to out->len) matches filter i: 1, 0, or -1 with
 * a Python error set. */
static int value_matches(const Filters *f, int i, const Out *out, Py_ssize_t at) {
    Py_ssize_t size, want = f->text_size[i];
    const char *text = str_text(out, at, &size);
    switch (f->kind[i]) {
    case F_DROP_STARTS:
    case F_KEEP_STARTS:
        return size >= want && memcmp(text, f->text[i], want) == 0;
    case F_DROP_CONTAINS:
    case F_KEEP_CONTAINS:
        return want == 0 || memmem(text, size, f->text[i], want) != NULL;
    case F_DROP_EXACT:
    case F_KEEP_EXACT:
        return size == want && memcmp(text, f->text[i], size) == 0;
    }
    PyObject *value = PyUnicode_DecodeUTF8(text, size, NULL);
    if (value == NULL)
        return -1;
    PyObject *found = PyObject_CallOneArg(f->search[i], value);
    Py_DECREF(value);
    if (found == NULL)
        return -1;
    int truth = PyObject_IsTrue(found);
    Py_DECREF(found);
    return truth;
}

/* Whether filters keep a record, given which of them matched. */
static int kept(const Filters *f, uint32_t matched) {
    for (int i = 0; i < f->count; i++) {
        int hit = (matched >> i) & 1;
        int kind = f->kind[i];
        int drop = kind == F_DROP_EXACT || kind == F_DROP_SEARCH || kind == F_DROP_STARTS || kind == F_DROP_CONTAINS;
        int keep = kind == F_KEEP_EXACT || kind == F_KEEP_SEARCH || kind == F_KEEP_STARTS || kind == F_KEEP_CONTAINS;
        if ((drop && hit) || (keep && !hit))
            return 0;
    }
    return 1;
}

/* What one call needs to know of logwrap's records. */
typedef struct {
    const char *fields; /* logwrap's fields as msgpack key/value pairs, the id key last */
    Py_ssize_t fields_size;
    Py_ssize_t field_count; /* pairs in fields, the id key included */
    PyObject *reserved;     /* tuple of bytes: keys logwrap sets (a line with one goes to Python) */
    PyObject *time_keys;    /* tuple of bytes, in order of preference */
    PyObject *id_prefix;    /* str */
    unsigned long long next_id;
    char read_time[8];
    PyObject *slow;
    Tally *tally; /* NULL: no metrics */
    PyObject *caught; /* list, or NULL: where entries of records that may carry a traceback go */
    Filters filters;
    long long quota;  /* records that may still be written; -1: no --throttle */
    int access;       /* CLF_*: the preset whose lines this pass parses, before Python's parsers */
    uint64_t key_sizes; /* bit (size % 64) for each reserved and time key: most keys skip both lists */
    Py_ssize_t filtered, throttled;
} Context;

/* One of shipper.sentry.event.CAUGHT_KEYS: a record with such a top-level key may report an
 * error, and its entry is handed to the Sentry reporter. A switch on the size keeps the
 * check to one comparison for almost every key. */
static int caught_key(const char *key, Py_ssize_t size) {
    switch (size) {
    case 5: return memcmp(key, "error", 5) == 0;
    case 9: return memcmp(key, "exception", 9) == 0;
    case 11: return memcmp(key, "stack_trace", 11) == 0;
    case 17: return memcmp(key, "error.stack_trace", 17) == 0;
    default: return 0;
    }
}

static int key_in(const char *key, Py_ssize_t size, PyObject *keys) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        PyObject *k = PyTuple_GET_ITEM(keys, i);
        if (PyBytes_GET_SIZE(k) == size && memcmp(PyBytes_AS_STRING(k), key, size) == 0)
            return (int)i;
    }
    return -1;
}

static int two_digits(const char *s) {
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + s[1] - '0' : -1;
}

static inline __attribute__((always_inline)) int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" to an EventTime; 0 when the text has another shape or is
 * outside 1970..2106 (Python then decides). */
static int event_time(const char *s, Py_ssize_t size, char wire[8]) {
    if (size < 20 || s[size - 1] != 'Z' || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
        s[16] != ':')
        return 0;
    int hi = two_digits(s), lo = two_digits(s + 2), month = two_digits(s + 5), day = two_digits(s + 8);
    int hour = two_digits(s + 11), minute = two_digits(s + 14), second = two_digits(s + 17);
    if (hi < 0 || lo < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 ||
        minute > 59 || second < 0 || second > 59)
        return 0;
    int year = hi * 100 + lo;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] + (month == 2 && leap))
        return 0;
    uint32_t nanos = 0;
    Py_ssize_t digits = size - 21; /* between "." and "Z" */
    if (size > 20) {
        if (s[19] != '.' || digits < 1 || digits > 9)
            return 0;
        for (Py_ssize_t i = 0; i < 9; i++) {
            char c = i < digits ? s[20 + i] : '0';
            if (c < '0' || c > '9')
                return 0;
            nanos = nanos * 10 + (uint32_t)(c - '0');
        }
    }
    int64_t seconds = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 +
                      minute * 60 + second;
    if (year < 1970 || seconds > 0xFFFFFFFFLL)
        return 0;
    store_be(wire, (uint64_t)seconds, 4);
    store_be(wire + 4, nanos, 4);
    return 1;
}

/* Apply the filters to the top-level key just written at out->data + key_at: NOT_MINE for a
 * nested field's parent, a removed key flagged, a renamed key rewritten in place, and the
 * filters that match on its value flagged in *greps. */
static Status filter_key(const Filters *f, Out *out, Py_ssize_t key_at, int *removed, uint32_t *greps) {
    Py_ssize_t size;
    const char *key = str_text(out, key_at, &size);
    for (int i = 0; i < f->count; i++) {
        if (f->key_size[i] != size || memcmp(f->key[i], key, size) != 0)
            continue;
        switch (f->kind[i]) {
        case F_PREFIX:
            return NOT_MINE;
        case F_REMOVE:
            *removed = 1;
            break;
        case F_RENAME: {
            out->len = key_at;
            Py_ssize_t at = open_header(out);
            if (at < 0 || put(out, f->text[i], f->text_size[i]) < 0)
                return FAILED;
            close_header(out, at, (uint64_t)f->text_size[i], STR);
            return OK; /* the other filters name other fields (fastpass checks it) */
        }
        default:
            *greps |= (uint32_t)1 << i;
        }
    }
    return OK;
}

/* A record being written as an entry: what its keys have shown so far. The JSON pass and the
 * access-line pass both write each key, call pair_key, write its value, call pair_value, and
 * end with end_entry, so the filters, time keys, tally and Sentry catch work the same for both. */
typedef struct {
    Py_ssize_t start, map_at;
    /* per time key: where its plain string value is in out (0: absent or null; -1: another kind) */
    Py_ssize_t time_at[MAX_KEYS];
    Py_ssize_t time_end[MAX_KEYS];
    uint64_t count;
    Keys keys;
    Found found;
    int catch;
    uint32_t matched; /* bit i: filter i's field matched */
    /* the pair being written */
    Py_ssize_t key_at, key_offset, key_size;
    int removed, time_index;
    uint32_t greps; /* bit i: filter i matches on this key's value */
} Record;

static inline __attribute__((always_inline)) Status begin_entry(Out *out, Record *r) {
    r->start = out->len;
    if (reserve(out, ENTRY_HEAD) < 0)
        return FAILED;
    out->len += ENTRY_HEAD;
    if ((r->map_at = open_header(out)) < 0)
        return FAILED;
    memset(r->time_at, 0, sizeof r->time_at);
    r->count = 0;
    r->keys.count = 0; /* only count needs a value: clearing all 1 KiB of keys each time would cost */
    r->found.mask = 0;
    r->catch = 0;
    r->matched = 0;
    return OK;
}

/* The key just written at r->key_at: the filters, the repeated-key check, logwrap's own keys,
 * time keys and the Sentry catch. */
static inline __attribute__((always_inline)) Status pair_key(Context *ctx, Out *out, Record *r) {
    Status status;
    r->removed = 0;
    r->greps = 0;
    if (ctx->filters.count > 0 && (status = filter_key(&ctx->filters, out, r->key_at, &r->removed, &r->greps)) != OK)
        return status;
    if (!r->removed && (status = new_key(&r->keys, out, r->key_at)) != OK)
        return status; /* a removed key is written over: it is not kept among the keys */
    const char *key = str_text(out, r->key_at, &r->key_size);
    int listed = (ctx->key_sizes >> (r->key_size & 63)) & 1;
    if (listed && key_in(key, r->key_size, ctx->reserved) >= 0)
        return NOT_MINE; /* the app sets a field logwrap sets: Python keeps the app's key in place */
    r->time_index = r->removed || !listed ? -1 : key_in(key, r->key_size, ctx->time_keys);
    if (ctx->caught != NULL && !r->catch && !r->removed)
        r->catch = caught_key(key, r->key_size);
    r->key_offset = key - out->data; /* writing the value may move out->data */
    return OK;
}

/* The value just written at value_at (a str with no escapes when plain). */
static inline __attribute__((always_inline)) Status pair_value(Context *ctx, Out *out, Record *r, Py_ssize_t value_at, int is_string, int plain) {
    if (r->greps != 0) {
        if (!is_string)
            return NOT_MINE; /* a number, boolean or null is matched by its JSON text: Python */
        for (int i = 0; i < ctx->filters.count; i++) {
            if (!((r->greps >> i) & 1))
                continue;
            int hit = value_matches(&ctx->filters, i, out, value_at);
            if (hit < 0)
                return FAILED;
            r->matched |= (uint32_t)hit << i;
        }
    }
    if (r->removed) {
        out->len = r->key_at;
        return OK;
    }
    if (ctx->tally != NULL)
        watch_key(ctx->tally, &r->found, out->data + r->key_offset, r->key_size, value_at, out->len);
    if (r->time_index >= 0) {
        int null = out->len - value_at == 1 && (unsigned char)out->data[value_at] == 0xC0;
        r->time_at[r->time_index] = null ? 0 : is_string && plain ? value_at : -1;
        r->time_end[r->time_index] = out->len;
    }
    r->count++;
    return OK;
}

/* After the last pair: the filters' verdict, the throttle, the event time, logwrap's fields and
 * the id. A record left out writes nothing and takes its id, as in Python. */
static inline __attribute__((always_inline)) Status end_entry(Context *ctx, Out *out, Record *r) {
    int filtered = ctx->filters.count > 0 && !kept(&ctx->filters, r->matched);
    if (filtered || ctx->quota == 0) {
        if (filtered)
            ctx->filtered++;
        else
            ctx->throttled++;
        out->len = r->start;
        ctx->next_id++;
        return OK;
    }
    Py_ssize_t start = r->start;
    memcpy(out->data + start, "\x92\xd7\x00", 3);
    memcpy(out->data + start + 2 + 1, ctx->read_time, 8);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(ctx->time_keys); i++) {
        if (r->time_at[i] == 0)
            continue;
        if (r->time_at[i] < 0)
            return NOT_MINE; /* not a plain string: Python reads numbers and escaped text */
        Py_ssize_t text_size;
        Out view = {.data = out->data, .len = r->time_end[i]};
        const char *text = str_text(&view, r->time_at[i], &text_size);
        if (!event_time(text, text_size, out->data + start + 3))
            return NOT_MINE;
        break;
    }
    if (ctx->tally != NULL && r->found.mask != 0 && observe(ctx->tally, &r->found, out->data) < 0)
        return FAILED;
    if (put(out, ctx->fields, ctx->fields_size) < 0)
        return FAILED;
    char id[24];
    int id_size = snprintf(id, sizeof id, "%llu", ctx->next_id);
    Py_ssize_t prefix_size;
    const char *prefix = PyUnicode_AsUTF8AndSize(ctx->id_prefix, &prefix_size);
    if (prefix == NULL)
        return FAILED;
    Py_ssize_t id_at = open_header(out);
    if (id_at < 0 || put(out, prefix, prefix_size) < 0 || put(out, id, id_size) < 0)
        return FAILED;
    close_header(out, id_at, (uint64_t)(prefix_size + id_size), STR);
    /* the map's body moves when its header shrinks: the id is written first, as above */
    close_header(out, r->map_at, r->count + (uint64_t)ctx->field_count, MAP);
    ctx->next_id++;
    if (ctx->quota > 0)
        ctx->quota--;
    if (r->catch) {
        PyObject *entry = PyBytes_FromStringAndSize(out->data + start, out->len - start);
        int failed = entry == NULL || PyList_Append(ctx->caught, entry) < 0;
        Py_XDECREF(entry);
        if (failed)
            return FAILED;
    }
    return OK;
}

/* One JSON line as a whole entry, or NOT_MINE (out is then left as it was). */
static Status json_entry(const char *line, Py_ssize_t size, Context *ctx, Out *out) {
    Input in = {(const unsigned char *)line, (const unsigned char *)line + size};
    Record r;
    Status status = begin_entry(out, &r);
    if (status != OK)
        return status;
    in.p++;
    skip_space(&in);
    int empty = in.p < in.end && *in.p == '}';
    if (empty)
        in.p++;
    while (!empty) {
        int plain;
        r.key_at = out->len;
        if (in.p >= in.end || *in.p != '"')
            goto not_mine;
        if ((status = string(&in, out, &plain)) != OK || (status = pair_key(ctx, out, &r)) != OK)
            goto done;
        skip_space(&in);
        if (in.p >= in.end || *in.p != ':')
            goto not_mine;
        in.p++;
        skip_space(&in);
        Py_ssize_t value_at = out->len;
        int is_string = in.p < in.end && *in.p == '"';
        if (is_string)
            status = string(&in, out, &plain);
        else
            status = value(&in, out, 1);
        if (status != OK || (status = pair_value(ctx, out, &r, value_at, is_string, plain)) != OK)
            goto done;
        skip_space(&in);
        if (in.p < in.end && *in.p == ',') {
            in.p++;
            skip_space(&in);
            continue;
        }
        if (in.p < in.end && *in.p == '}') {
            in.p++;
            break;
        }
        goto not_mine;
    }
    skip_space(&in);
    if (in.p != in.end)
        goto not_mine;
    status = end_entry(ctx, out, &r);
    goto done;
not_mine:
    status = NOT_MINE;
done:
    if (status == NOT_MINE)
        out->len = r.start;
    return status;
}

/* ---- Access lines: shipper.processing.presets' nginx, apache and gunicorn in one pass ----
 *
 * The presets are regexes whose every part ends where the next begins (a token at a space, a
 * quoted string at its unescaped quote), so a scan reads them the same way. This pass only takes
 * the common shape: valid UTF-8, a "DD/Mon/YYYY:HH:MM:SS +HHMM" time in 1970..2105, a request
 * "METHOD TARGET[ HTTP/N.N]", decimal numbers that fit; any other line goes to Python, which
 * decides (and may still parse it). The fields are written in the preset's order, through the
 * same steps as a JSON line's keys. */
enum { CLF_NONE, CLF_NGINX, CLF_APACHE, CLF_GUNICORN };

typedef struct {
    const unsigned char *at;
    Py_ssize_t size;
} Span;

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int valid_utf8(const unsigned char *p, const unsigned char *end) {
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int size = utf8_char(p, end);
        if (size == 0)
            return 0;
        p += size;
    }
    return 1;
}

/* \S* from p: the span, and where it ends. */
static const unsigned char *token(const unsigned char *p, const unsigned char *end, Span *span) {
    span->at = p;
    while (p < end && !is_space(*p))
        p++;
    span->size = p - span->at;
    return p;
}

static const unsigned char *literal_at(const unsigned char *p, const unsigned char *end, const char *text) {
    size_t size = strlen(text);
    return p != NULL && (size_t)(end - p) >= size && memcmp(p, text, size) == 0 ? p + size : NULL;
}

/* "[^"\\]*(?:\\.[^"\\]*)*": the text between the quotes, escapes as written. */
static const unsigned char *quoted_at(const unsigned char *p, const unsigned char *end, Span *span) {
    if (p == NULL || p >= end || *p != '"')
        return NULL;
    span->at = ++p;
    while (p < end && *p != '"') {
        if (*p == '\\') {
            if (p + 1 >= end || p[1] == '\n')
                return NULL;
            p++;
        }
        p++;
    }
    if (p >= end)
        return NULL;
    span->size = p - span->at;
    return p + 1;
}

static int digits_only(Span s) {
    for (Py_ssize_t i = 0; i < s.size; i++)
        if (s.at[i] < '0' || s.at[i] > '9')
            return 0;
    return s.size > 0;
}

static int is_dash(Span s) { return s.size == 1 && s.at[0] == '-'; }

typedef struct {
    Span address, user, time, request, status, bytes, referrer, agent, forwarded; /* at NULL: absent */
} Access;

/* The line as the preset's regex reads it (fullmatch), or 0. */
static int access_fields(const unsigned char *p, const unsigned char *end, int variant, Access *a) {
    memset(a, 0, sizeof *a);
    Span ident;
    p = token(p, end, &a->address);
    if (a->address.size == 0 && variant != CLF_GUNICORN)
        return 0;
    p = literal_at(p, end, " ");
    if (p != NULL && variant == CLF_APACHE) {
        p = token(p, end, &ident);
        p = ident.size > 0 ? literal_at(p, end, " ") : NULL;
    } else {
        p = literal_at(p, end, "- ");
    }
    if (p == NULL)
        return 0;
    p = token(p, end, &a->user);
    if (a->user.size == 0 || (p = literal_at(p, end, " [")) == NULL)
        return 0;
    a->time.at = p;
    while (p < end && *p != ']')
        p++;
    a->time.size = p - a->time.at;
    p = quoted_at(literal_at(p, end, "] "), end, &a->request);
    if ((p = literal_at(p, end, " ")) == NULL || end - p < 4)
        return 0;
    a->status = (Span){p, 3};
    if (!digits_only(a->status) || p[3] != ' ')
        return 0;
    p = token(p + 4, end, &a->bytes);
    if (!is_dash(a->bytes) && !digits_only(a->bytes))
        return 0;
    if (p == end && variant == CLF_APACHE)
        return 1;
    p = quoted_at(literal_at(p, end, " "), end, &a->referrer);
    p = quoted_at(literal_at(p, end, " "), end, &a->agent);
    if (p != NULL && p < end && variant == CLF_NGINX)
        p = quoted_at(literal_at(p, end, " "), end, &a->forwarded);
    return p == end;
}

static int two(const unsigned char *s) {
    return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' ? (s[0] - '0') * 10 + s[1] - '0' : -1;
}

/* "DD/Mon/YYYY:HH:MM:SS +HHMM" as RFC 3339 UTC text and epoch seconds; 0 for any other shape. */
static int clf_time(Span t, char text[21]) {
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const unsigned char *s = t.at;
    if (t.size != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
        s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
        return 0;
    int month = 0;
    while (month < 12 && memcmp(months + 3 * month, s + 3, 3) != 0)
        month++;
    int day = two(s), hi = two(s + 7), lo = two(s + 9), hour = two(s + 12), minute = two(s + 15);
    int second = two(s + 18), zone_h = two(s + 22), zone_m = two(s + 24);
    if (month == 12 || day < 1 || hi < 0 || lo < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
        second < 0 || second > 59 || zone_h < 0 || zone_h > 23 || zone_m < 0 || zone_m > 59)
        return 0;
    int year = hi * 100 + lo;
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month] + (month == 1 && leap))
        return 0;
    int64_t offset = (zone_h * 3600 + zone_m * 60) * (s[21] == '-' ? -1 : 1);
    int64_t seconds = days_from_civil(year, (unsigned)month + 1, (unsigned)day) * 86400 + hour * 3600 +
                      minute * 60 + second - offset;
    if (seconds < 0 || seconds > 0xFFFFFFFFLL)
        return 0;
    int64_t days = seconds / 86400, rest = seconds % 86400;
    /* civil_from_days (Howard Hinnant) */
    days += 719468;
    int64_t era = days / 146097;
    unsigned doe = (unsigned)(days - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    /* y is 1970..2106, within 4 digits: written digit by digit, as "YYYY-MM-DDTHH:MM:SSZ" */
    int parts[6] = {(int)(y / 100), (int)(y % 100), (int)m, (int)d, (int)(rest / 3600), (int)(rest / 60 % 60)};
    static const char after[] = "\0--T::";
    char *at = text;
    for (int i = 0; i < 6; i++) {
        *at++ = (char)('0' + parts[i] / 10);
        *at++ = (char)('0' + parts[i] % 10);
        if (after[i])
            *at++ = after[i];
    }
    *at++ = (char)('0' + rest % 60 / 10);
    *at++ = (char)('0' + rest % 10);
    *at++ = 'Z';
    *at = '\0';
    return 1;
}

/* "METHOD TARGET[ HTTP/N[.N]]" as _REQUEST reads it; 0 for any other shape. */
static int request_parts(Span r, Span *method, Span *target, Span *version) {
    static const char token_chars[] = "-!#$%&'*+.^_`|~";
    const unsigned char *p = r.at, *end = r.at + r.size;
    method->at = p;
    while (p < end && ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                       (*p && strchr(token_chars, *p) != NULL)))
        p++;
    method->size = p - method->at;
    if (method->size == 0 || (p = literal_at(p, end, " ")) == NULL)
        return 0;
    p = token(p, end, target);
    version->at = NULL;
    if (target->size == 0)
        return 0;
    if (p == end)
        return 1;
    if ((p = literal_at(p, end, " HTTP/")) == NULL)
        return 0;
    version->at = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    if (p == version->at)
        return 0;
    if (p < end && *p == '.') {
        const unsigned char *fraction = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == fraction)
            return 0;
    }
    version->size = p - version->at;
    return p == end;
}

static Status put_text(Out *out, const void *text, Py_ssize_t size) {
    Py_ssize_t at = open_header(out);
    if (at < 0 || put(out, text, size) < 0)
        return FAILED;
    close_header(out, at, (uint64_t)size, STR);
    return OK;
}

/* One field of an access line's record: its key, then its value (a str, or the digits of an
 * integer when number is set). */
static Status access_pair(Context *ctx, Out *out, Record *r, const char *key, Span value, int integer) {
    Status status;
    r->key_at = out->len;
    if ((status = put_text(out, key, (Py_ssize_t)strlen(key))) != OK || (status = pair_key(ctx, out, r)) != OK)
        return status;
    Py_ssize_t value_at = out->len;
    if (integer) {
        Input in = {value.at, value.at + value.size};
        status = number(&in, out); /* leading zeros and more than 18 digits: Python */
    } else {
        status = put_text(out, value.at, value.size);
    }
    if (status != OK)
        return status;
    return pair_value(ctx, out, r, value_at, !integer, 1);
}

static Status access_entry(const char *line, Py_ssize_t size, int variant, Context *ctx, Out *out) {
    const unsigned char *p = (const unsigned char *)line, *end = p + size;
    Access a;
    Span method, target, version;
    char stamp[21];
    if (!access_fields(p, end, variant, &a) || !valid_utf8(p, end) || !clf_time(a.time, stamp) ||
        !request_parts(a.request, &method, &target, &version))
        return NOT_MINE;
    Record r;
    Status status = begin_entry(out, &r);
    static const Span zero = {(const unsigned char *)"0", 1};
    if (status != OK ||
        (status = access_pair(ctx, out, &r, "message", (Span){p, size}, 0)) != OK ||
        (a.address.size > 0 && (status = access_pair(ctx, out, &r, "source.address", a.address, 0)) != OK) ||
        (!is_dash(a.user) && (status = access_pair(ctx, out, &r, "user.name", a.user, 0)) != OK) ||
        (status = access_pair(ctx, out, &r, "@timestamp", (Span){(const unsigned char *)stamp, 20}, 0)) != OK ||
        (status = access_pair(ctx, out, &r, "http.request.method", method, 0)) != OK ||
        (status = access_pair(ctx, out, &r, "url.original", target, 0)) != OK ||
        (version.at != NULL && (status = access_pair(ctx, out, &r, "http.version", version, 0)) != OK) ||
        (status = access_pair(ctx, out, &r, "http.response.status_code", a.status, 1)) != OK ||
        (status = access_pair(ctx, out, &r, "http.response.body.bytes", is_dash(a.bytes) ? zero : a.bytes, 1))
            != OK ||
        (a.referrer.at != NULL && !is_dash(a.referrer) &&
         (status = access_pair(ctx, out, &r, "http.request.referrer", a.referrer, 0)) != OK) ||
        (a.agent.at != NULL && !is_dash(a.agent) &&
         (status = access_pair(ctx, out, &r, "user_agent.original", a.agent, 0)) != OK) ||
        (a.forwarded.at != NULL && !is_dash(a.forwarded) &&
         (status = access_pair(ctx, out, &r, "http.request.headers.x_forwarded_for", a.forwarded, 0)) != OK) ||
        (status = end_entry(ctx, out, &r)) != OK) {
        if (status == NOT_MINE)
            out->len = r.start;
        return status;
    }
    return OK;
}

static Status slow_entry(PyObject *item, Context *ctx, Out *out) {
    PyObject *id = PyUnicode_FromFormat("%U%llu", ctx->id_prefix, ctx->next_id);
    if (id == NULL)
        return FAILED;
    PyObject *entry = PyObject_CallFunctionObjArgs(ctx->slow, item, id, ctx->quota == 0 ? Py_True : Py_False, NULL);
    Py_DECREF(id);
    if (entry == NULL)
        return FAILED;
    ctx->next_id++;
    if (entry == Py_None) { /* throttled */
        Py_DECREF(entry);
        ctx->throttled++;
        return OK;
    }
    if (!PyBytes_Check(entry)) {
        Py_DECREF(entry);
        PyErr_SetString(PyExc_TypeError, "slow() must return bytes or None");
        return FAILED;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(entry);
    int failed = put(out, PyBytes_AS_STRING(entry), size) < 0;
    Py_DECREF(entry);
    if (size == 0)
        ctx->filtered++;
    else if (ctx->quota > 0)
        ctx->quota--;
    return failed ? FAILED : OK;
}

static int tuple_of_bytes(PyObject *keys, const char *name, Py_ssize_t limit) {
    if (PyTuple_GET_SIZE(keys) > limit) {
        PyErr_Format(PyExc_ValueError, "%s may hold at most %zd keys", name, limit);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(keys, i))) {
            PyErr_Format(PyExc_TypeError, "%s must hold bytes", name);
            return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(pack_doc,
    "pack(items, start, max_records, max_bytes, fields, field_count, reserved, time_keys,\n"
    "     id_prefix, next_id, read_time, slow, tally=None, caught=None, filters=None, quota=-1,\n"
    "     access=0)\n"
    "    -> (body, next_start, next_id, filtered, throttled)\n\n"
    "Packed Forward entries for items[start:], stopping after max_records entries or once the\n"
    "body reaches max_bytes; with a tally, the metrics in the records taken are counted too,\n"
    "with a list caught, the entries of JSON records that may carry a traceback are appended;\n"
    "filters (see shipper.processing.fastpass) leave records out, and once quota records are\n"
    "written the rest are throttled. slow(item, event_id, throttled) returns an entry, b'' for\n"
    "a record filtered out, or None for one throttled. With access (1 nginx, 2 apache,\n"
    "3 gunicorn: the first --parse), lines that are not JSON are parsed as that preset does.");

static PyObject *pack_items(PyObject *items, Py_ssize_t start, Py_ssize_t max_records, Py_ssize_t max_bytes,
                            Context *context, const char *read_time, Py_ssize_t read_size);

static PyObject *pack(PyObject *module, PyObject *args) {
    PyObject *items, *tally_arg = Py_None, *caught_arg = Py_None, *filters_arg = Py_None;
    Py_ssize_t start, max_records, max_bytes, read_size;
    const char *read_time;
    Context ctx;
    ctx.quota = -1;
    ctx.access = 0; /* CLF_NONE */
    ctx.filtered = ctx.throttled = 0;
    if (!PyArg_ParseTuple(args, "O!nnny#nO!O!UKy#O|OOOLi:pack", &PyList_Type, &items, &start, &max_records,
                          &max_bytes, &ctx.fields, &ctx.fields_size, &ctx.field_count, &PyTuple_Type,
                          &ctx.reserved, &PyTuple_Type, &ctx.time_keys, &ctx.id_prefix, &ctx.next_id,
                          &read_time, &read_size, &ctx.slow, &tally_arg, &caught_arg, &filters_arg, &ctx.quota, &ctx.access))
        return NULL;
    if (parse_filters(filters_arg, &ctx.filters) < 0)
        return NULL;
    if (caught_arg != Py_None && !PyList_Check(caught_arg)) {
        PyErr_SetString(PyExc_TypeError, "caught must be a list or None");
        return NULL;
    }
    ctx.caught = caught_arg == Py_None ? NULL : caught_arg;
    ctx.tally = NULL;
    if (tally_arg != Py_None && (ctx.tally = PyCapsule_GetPointer(tally_arg, TALLY_CAPSULE)) == NULL)
        return NULL;
    PyObject *result = pack_items(items, start, max_records, max_bytes, &ctx, read_time, read_size);
    if (ctx.tally != NULL) {
        PyObject *type, *error, *traceback;
        PyErr_Fetch(&type, &error, &traceback); /* a failed call's error must not fail the counting */
        int failed = end_runs(ctx.tally) < 0;
        if (result == NULL)
            PyErr_Restore(type, error, traceback);
        else if (failed)
            Py_CLEAR(result);
    }
    return result;
}

static PyObject *pack_items(PyObject *items, Py_ssize_t start, Py_ssize_t max_records, Py_ssize_t max_bytes,
                            Context *context, const char *read_time, Py_ssize_t read_size) {
    Context ctx = *context;
    if (tuple_of_bytes(ctx.reserved, "reserved", PY_SSIZE_T_MAX) < 0 ||
        tuple_of_bytes(ctx.time_keys, "time_keys", MAX_KEYS) < 0)
        return NULL;
    if (read_size != 8) {
        PyErr_SetString(PyExc_ValueError, "read_time must be 8 bytes");
        return NULL;
    }
    memcpy(ctx.read_time, read_time, 8);
    ctx.key_sizes = 0;
    for (int list = 0; list < 2; list++) {
        PyObject *keys = list ? ctx.time_keys : ctx.reserved;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(keys); i++)
            ctx.key_sizes |= (uint64_t)1 << (PyBytes_GET_SIZE(PyTuple_GET_ITEM(keys, i)) & 63);
    }
    Out out = {NULL, NULL, 0, 0};
    Py_ssize_t index = start < 0 ? 0 : start, taken = 0;
    Py_ssize_t per_record = ENTRY_HEAD + 5 + ctx.fields_size + PyUnicode_GET_LENGTH(ctx.id_prefix) + 24;
    if (reserve(&out, estimate(items, index, max_records, per_record, max_bytes) + 64) < 0)
        return NULL;
    while (index < PyList_GET_SIZE(items) && taken < max_records && (taken == 0 || out.len < max_bytes)) {
        PyObject *item = PyList_GET_ITEM(items, index);
        Py_INCREF(item); /* the callback runs Python code: keep the item alive whatever it does */
        Status status = NOT_MINE;
        if (PyBytes_CheckExact(item) && PyBytes_GET_SIZE(item) > 0 && PyBytes_AS_STRING(item)[0] == '{')
            status = json_entry(PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item), &ctx, &out);
        else if (ctx.access != CLF_NONE && PyBytes_CheckExact(item))
            status = access_entry(PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item), ctx.access, &ctx, &out);
        if (status == NOT_MINE)
            status = slow_entry(item, &ctx, &out);
        Py_DECREF(item);
        if (status == FAILED) {
            Py_XDECREF(out.bytes);
            return NULL;
        }
        index++, taken++;
    }
    if (_PyBytes_Resize(&out.bytes, out.len) < 0)
        return NULL;
    return Py_BuildValue("NnKnn", out.bytes, index, ctx.next_id, ctx.filtered, ctx.throttled);
}

PyDoc_STRVAR(tally_doc,
    "tally(watch, tables, overflow, max_series, histogram, bounds, samples, max_samples) -> capsule\n\n"
    "What pack() counts the metrics of records into, checked once; see shipper.metrics.tally.");

static PyObject *tally(PyObject *module, PyObject *args) {
    (void)module;
    Tally *t = PyMem_Calloc(1, sizeof *t);
    if (t == NULL)
        return PyErr_NoMemory();
    t->owner = Py_NewRef(args);
    PyObject *capsule = PyCapsule_New(t, TALLY_CAPSULE, free_tally);
    if (capsule == NULL) {
        Py_DECREF(t->owner);
        PyMem_Free(t);
        return NULL;
    }
    if (parse_tally(args, t) < 0)
        Py_CLEAR(capsule); /* frees t, with whatever it holds */
    return capsule;
}

static PyMethodDef methods[] = {
    {"pack", pack, METH_VARARGS, pack_doc},
    {"tally", tally, METH_VARARGS, tally_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastpack", "JSON log lines to packed Forward entries.", -1, methods,
};

PyMODINIT_FUNC PyInit__fastpack(void) {
    PyObject *m = PyModule_Create(&module);
    /* Python checks that this is forward.nesting.MAX_NESTING: one limit for both paths */
    if (m != NULL && PyModule_AddIntConstant(m, "MAX_DEPTH", MAX_DEPTH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
