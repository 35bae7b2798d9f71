/* cheld.c: which classes an extension module's C code holds, found while the zygote preloads, so that a run's exit can let go of what only the zygote's extensions kept. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* The collector's generation lists have no API to walk them; the zygote is
 * built against this very libpython (as py.c). */
#undef _PyGC_FINALIZED
#define Py_BUILD_CORE 1
#include "internal/pycore_interp.h"
#undef Py_BUILD_CORE

#include "zygote.h"

#include <stdint.h>
#include <stdlib.h>

/*
 * A class that C code keeps in a variable of its own (_decimal keeps
 * numbers.Number and numbers.Rational) is reachable for good: python3 would
 * free it at exit unless the program imported that extension too.  Such a
 * reference is one that no container the collector tracks accounts for:
 * the class's reference count is higher than the references the collector
 * can see (tp_traverse of every tracked object).  Which extension took it
 * is told by the window of its loading: the classes whose count rose while
 * it loaded.
 */

/* A heap type and a count; an open-addressing table of them by address. */
struct tcount {
	PyObject *t;
	Py_ssize_t n;
};

struct ttable {
	struct tcount *v;
	size_t cap, len;
};

static size_t slot_of(const struct ttable *tt, const PyObject *t)
{
	uintptr_t h = (uintptr_t)t >> 4;
	h ^= h >> 17;
	return (size_t)(h * 0x9E3779B97F4A7C15ull) & (tt->cap - 1);
}

/* The entry for t (added with n = 0 if add), or NULL. */
static struct tcount *tt_find(struct ttable *tt, PyObject *t, int add)
{
	if (add && (tt->len + 1) * 2 > tt->cap) {
		struct ttable bigger = { calloc(tt->cap ? tt->cap * 2 : 1024, sizeof *tt->v),
		                         tt->cap ? tt->cap * 2 : 1024, 0 };
		if (bigger.v == NULL)
			return NULL;
		for (size_t i = 0; i < tt->cap; i++)
			if (tt->v[i].t != NULL)
				*tt_find(&bigger, tt->v[i].t, 1) = tt->v[i];
		free(tt->v);
		*tt = bigger;
	}
	if (tt->cap == 0)
		return NULL;
	for (size_t i = slot_of(tt, t);; i = (i + 1) & (tt->cap - 1)) {
		if (tt->v[i].t == t)
			return &tt->v[i];
		if (tt->v[i].t == NULL) {
			if (!add)
				return NULL;
			tt->v[i].t = t;
			tt->len++;
			return &tt->v[i];
		}
	}
}

static int is_heap_type(const PyObject *o)
{
	return PyType_Check(o) && PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE);
}

/* Call fn(o, arg) for every object the collector tracks. */
static void each_tracked(void (*fn)(PyObject *, void *), void *arg)
{
	struct _gc_runtime_state *gc = &PyInterpreterState_Get()->gc;

	for (int i = 0; i <= NUM_GENERATIONS; i++) {
		PyGC_Head *head = i < NUM_GENERATIONS ? &gc->generations[i].head
		                                      : &gc->permanent_generation.head;
		for (PyGC_Head *g = _PyGCHead_NEXT(head); g != head; g = _PyGCHead_NEXT(g))
			fn((PyObject *)(g + 1), arg);
	}
}

static void note_type(PyObject *o, void *arg)
{
	struct tcount *c;
	if (is_heap_type(o) && (c = tt_find(arg, o, 1)) != NULL)
		c->n = Py_REFCNT(o);
}

/* The reference counts of every class there is now, for zcheld_since(). */
void *zcheld_snapshot(void)
{
	struct ttable *tt = calloc(1, sizeof *tt);
	if (tt != NULL)
		each_tracked(note_type, tt);
	return tt;
}

struct since {
	struct ttable *before;
	PyObject *out;
};

static void rose(PyObject *o, void *arg)
{
	struct since *s = arg;
	if (s->out == NULL || !is_heap_type(o))
		return;
	struct tcount *c = tt_find(s->before, o, 0);
	if ((c == NULL || Py_REFCNT(o) > c->n) && PyList_Append(s->out, o) < 0)
		Py_CLEAR(s->out);
}

/* The classes made, or referred to once more, since snap was taken (a new
 * list, or NULL with an exception); snap is freed. */
PyObject *zcheld_since(void *snap)
{
	struct since s = { snap, PyList_New(0) };

	if (s.before != NULL && s.out != NULL)
		each_tracked(rose, &s);
	if (s.before != NULL)
		free(s.before->v);
	free(s.before);
	return s.out;
}

static int count_visit(PyObject *o, void *arg)
{
	struct tcount *c = tt_find(arg, o, 0);
	if (c != NULL)
		c->n++;
	return 0;
}

static void count_refs(PyObject *o, void *arg)
{
	traverseproc tr = Py_TYPE(o)->tp_traverse;
	if (tr != NULL)
		tr(o, count_visit, arg);
}

/* Of the classes in the list cands, those held by a reference the
 * collector cannot see (a new set, or NULL with an exception). */
PyObject *zcheld_external(PyObject *cands)
{
	struct ttable tt = { 0 };
	PyObject *out = PySet_New(NULL);

	for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(cands); i++) {
		struct tcount *c = tt_find(&tt, PyList_GET_ITEM(cands, i), 1);
		if (c == NULL)
			Py_CLEAR(out);
	}
	if (out != NULL)
		each_tracked(count_refs, &tt);      /* cands itself is tracked: its references count */
	for (size_t i = 0; out && i < tt.cap; i++)
		if (tt.v[i].t != NULL && Py_REFCNT(tt.v[i].t) > tt.v[i].n &&
		    PySet_Add(out, tt.v[i].t) < 0)
			Py_CLEAR(out);
	free(tt.v);
	return out;
}
