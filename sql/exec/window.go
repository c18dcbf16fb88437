package exec

import (
	"container/heap"
	"fmt"
	"slices"

	"github.com/hydrantio/hydrant/sql"
)

// group is one window of one key: its bounds and aggregate states.
type group struct {
	keyEnc     string
	keys       []any
	start, end Timestamp
	accs       []accumulator
	dead       bool // merged into another session
}

// closing is a heap entry: group g closes when the watermark reaches end.
// Entries go stale when a session grows or merges; they are skipped.
type closing struct {
	end Timestamp
	g   *group
}

type closingHeap []closing

func (h closingHeap) Len() int           { return len(h) }
func (h closingHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h closingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *closingHeap) Push(x any)        { *h = append(*h, x.(closing)) }
func (h *closingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// windowOp is a WindowAggregate in event time. A row joins every window its
// event time falls in (one for TUMBLE, size/slide for HOP, a session that
// may merge others for SESSION_WINDOW); a window is emitted once, when the
// watermark reaches its end, and windows closing together are emitted by
// end, then keys, then start.
type windowOp struct {
	q      *query
	n      *sql.WindowAggregate
	tsIdx  int
	size   int64 // milliseconds
	slide  int64
	gap    int64
	groups map[string]*group   // TUMBLE, HOP: by key and start
	byKey  map[string][]*group // SESSION_WINDOW: open sessions by key
	heap   closingHeap
	next   operator
}

func newWindowOp(q *query, n *sql.WindowAggregate, next operator) (*windowOp, error) {
	w := n.Window
	if w.TimeColumn == "" {
		return nil, fmt.Errorf("query %d (line %d) windows on processing time (PROCTIME()), which sql run does not support: a run over files is in event time", q.num, q.line)
	}
	idx := -1
	for i, c := range n.Input.Output() {
		if c.Name == w.TimeColumn {
			idx = i
		}
	}
	if idx < 0 {
		return nil, fmt.Errorf("query %d (line %d): event-time column %s not found", q.num, q.line, w.TimeColumn)
	}
	for _, a := range n.Aggregates {
		if _, err := newAccumulator(a); err != nil {
			return nil, fmt.Errorf("query %d (line %d): %w", q.num, q.line, err)
		}
	}
	return &windowOp{q: q, n: n, tsIdx: idx, size: w.Size.Milliseconds(), slide: w.Slide.Milliseconds(), gap: w.Gap.Milliseconds(),
		groups: map[string]*group{}, byKey: map[string][]*group{}, next: next}, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (o *windowOp) push(row []any) {
	t, ok := row[o.tsIdx].(Timestamp)
	if !ok {
		o.q.r.reportRow(o.q.from, row, o.q.input, "event time "+o.n.Window.TimeColumn+" is NULL")
		return
	}
	en := &env{row: row}
	keys := make([]any, len(o.n.Keys))
	var enc []byte
	for i, k := range o.n.Keys {
		v, err := o.q.ev.eval(k, en)
		if err != nil {
			o.q.r.reportRow(o.q.from, row, o.q.input, err.Error())
			return
		}
		keys[i] = v
		enc = appendKey(enc, v)
	}
	args := make([][]any, len(o.n.Aggregates))
	for i, a := range o.n.Aggregates {
		args[i] = make([]any, len(a.Args))
		for j, x := range a.Args {
			v, err := o.q.ev.eval(x, en)
			if err != nil {
				o.q.r.reportRow(o.q.from, row, o.q.input, err.Error())
				return
			}
			args[i][j] = v
		}
	}
	ts := int64(t)
	switch o.n.Window.Kind {
	case sql.Tumble:
		start := floorDiv(ts, o.size) * o.size
		o.fixed(string(enc), keys, start, args)
	case sql.Hop:
		for s := floorDiv(ts, o.slide) * o.slide; s > ts-o.size; s -= o.slide {
			o.fixed(string(enc), keys, s, args)
		}
	case sql.Session:
		o.session(string(enc), keys, ts, args)
	}
}

func (o *windowOp) newGroup(enc string, keys []any, start, end int64) *group {
	g := &group{keyEnc: enc, keys: keys, start: Timestamp(start), end: Timestamp(end)}
	for _, a := range o.n.Aggregates {
		acc, _ := newAccumulator(a) // checked in newWindowOp
		g.accs = append(g.accs, acc)
	}
	return g
}

func (g *group) add(args [][]any) {
	for i, acc := range g.accs {
		acc.add(args[i])
	}
}

// fixed adds a row to the TUMBLE or HOP window of keys starting at start.
func (o *windowOp) fixed(enc string, keys []any, start int64, args [][]any) {
	id := fmt.Sprintf("%s|%d", enc, start)
	g := o.groups[id]
	if g == nil {
		g = o.newGroup(enc, keys, start, start+o.size)
		o.groups[id] = g
		heap.Push(&o.heap, closing{g.end, g})
	}
	g.add(args)
}

// session adds a row at ts to the session of keys it falls in: [ts, ts+gap)
// joins every open session it overlaps, merging them when it bridges two.
func (o *windowOp) session(enc string, keys []any, ts int64, args [][]any) {
	start, end := Timestamp(ts), Timestamp(ts+o.gap)
	var into *group
	var oldEnd Timestamp
	kept := o.byKey[enc][:0]
	for _, g := range o.byKey[enc] {
		if g.start < end && start < g.end {
			if into == nil {
				into, oldEnd = g, g.end
			} else {
				into.start, into.end = min(into.start, g.start), max(into.end, g.end)
				for i, acc := range into.accs {
					acc.merge(g.accs[i])
				}
				g.dead = true
				continue
			}
		}
		kept = append(kept, g)
	}
	if into == nil {
		into = o.newGroup(enc, keys, ts, ts+o.gap)
		kept = append(kept, into)
		heap.Push(&o.heap, closing{into.end, into})
	} else {
		into.start, into.end = min(into.start, start), max(into.end, end)
		if into.end != oldEnd {
			heap.Push(&o.heap, closing{into.end, into})
		}
	}
	o.byKey[enc] = kept
	into.add(args)
}

// advance emits the windows whose end the watermark has reached.
func (o *windowOp) advance(wm Timestamp) {
	var done []*group
	for len(o.heap) > 0 && o.heap[0].end <= wm {
		c := heap.Pop(&o.heap).(closing)
		if c.g.dead || c.g.end != c.end {
			continue
		}
		c.g.dead = true
		done = append(done, c.g)
	}
	slices.SortFunc(done, func(a, b *group) int {
		if c := cmp3(a.end, b.end); c != 0 {
			return c
		}
		for i := range a.keys {
			if c := order(a.keys[i], b.keys[i]); c != 0 {
				return c
			}
		}
		return cmp3(a.start, b.start)
	})
	for _, g := range done {
		if o.n.Window.Kind == sql.Session {
			o.removeSession(g)
		} else {
			delete(o.groups, fmt.Sprintf("%s|%d", g.keyEnc, int64(g.start)))
		}
		o.emit(g)
	}
	o.next.advance(wm)
}

func (o *windowOp) removeSession(g *group) {
	s := o.byKey[g.keyEnc]
	if i := slices.Index(s, g); i >= 0 {
		s = slices.Delete(s, i, i+1)
	}
	if len(s) == 0 {
		delete(o.byKey, g.keyEnc)
	} else {
		o.byKey[g.keyEnc] = s
	}
}

func (o *windowOp) emit(g *group) {
	en := &env{keys: g.keys, aggs: make([]any, len(g.accs)), start: g.start, end: g.end}
	for i, acc := range g.accs {
		en.aggs[i] = coerce(acc.result(), o.n.Aggregates[i].Type)
	}
	if o.n.Having != nil {
		h, err := o.q.ev.eval(o.n.Having, en)
		if err != nil {
			o.q.r.reportGroup(o.q, g, en, err.Error())
			return
		}
		if !truth(h) {
			return
		}
	}
	out := make([]any, len(o.n.Exprs))
	for i, e := range o.n.Exprs {
		v, err := o.q.ev.eval(e, en)
		if err != nil {
			o.q.r.reportGroup(o.q, g, en, err.Error())
			return
		}
		out[i] = v
	}
	o.next.push(out)
}
