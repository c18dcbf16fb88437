package exec

import (
	"fmt"
	"math"
	"sort"

	"github.com/hydrantio/hydrant/sql"
)

// accumulator is the state of one aggregate in one group. States merge,
// so that session windows can join.
type accumulator interface {
	add(args []any)
	merge(other accumulator)
	result() any
}

func newAccumulator(a *sql.Aggregate) (accumulator, error) {
	switch a.Func {
	case "COUNT":
		if a.Distinct {
			return &distinct{set: map[string]struct{}{}}, nil
		}
		return &count{star: len(a.Args) == 0}, nil
	case "APPROX_COUNT_DISTINCT":
		// Exact for now: a set of the values seen, not a HyperLogLog sketch.
		return &distinct{set: map[string]struct{}{}}, nil
	case "SUM", "AVG":
		return &sum{avg: a.Func == "AVG", float: a.Type != sql.TypeInt64}, nil
	case "MIN", "MAX":
		return &extreme{max: a.Func == "MAX"}, nil
	case "APPROX_PERCENTILE":
		// Exact for now: every value is kept and the nearest rank taken.
		pct, err := convert(a.Args[1].Value, sql.TypeFloat64)
		if err != nil || pct == nil {
			return nil, fmt.Errorf("APPROX_PERCENTILE: bad percentage %v", a.Args[1].Value)
		}
		p := pct.(float64)
		if p <= 0 || p > 100 {
			return nil, fmt.Errorf("APPROX_PERCENTILE: the percentage %v is not in (0, 100]", p)
		}
		return &percentile{pct: p}, nil
	}
	return nil, fmt.Errorf("aggregate %s is not implemented", a.Func)
}

// count is COUNT(*) (every row) or COUNT(x) (rows where x is not NULL).
type count struct {
	star bool
	n    int64
}

func (c *count) add(args []any) {
	if c.star || !anyNull(args) {
		c.n++
	}
}
func (c *count) merge(o accumulator) { c.n += o.(*count).n }
func (c *count) result() any         { return c.n }

// distinct counts distinct non-NULL argument tuples.
type distinct struct{ set map[string]struct{} }

func (d *distinct) add(args []any) {
	if anyNull(args) {
		return
	}
	var k []byte
	for _, a := range args {
		k = appendKey(k, a)
	}
	d.set[string(k)] = struct{}{}
}

func (d *distinct) merge(o accumulator) {
	for k := range o.(*distinct).set {
		d.set[k] = struct{}{}
	}
}
func (d *distinct) result() any { return int64(len(d.set)) }

// sum is SUM and AVG; NULL when no value was added.
type sum struct {
	avg, float bool
	i          int64
	f          float64
	n          int64
}

func (s *sum) add(args []any) {
	switch x := args[0].(type) {
	case int64:
		s.i += x
		s.f += float64(x)
	case float64:
		s.f += x
	default:
		return
	}
	s.n++
}

func (s *sum) merge(o accumulator) {
	x := o.(*sum)
	s.i, s.f, s.n = s.i+x.i, s.f+x.f, s.n+x.n
}

func (s *sum) result() any {
	switch {
	case s.n == 0:
		return nil
	case s.avg:
		return s.f / float64(s.n)
	case s.float:
		return s.f
	}
	return s.i
}

// extreme is MIN and MAX over non-NULL values.
type extreme struct {
	max bool
	v   any
}

func (e *extreme) add(args []any) {
	x := args[0]
	if x == nil {
		return
	}
	if e.v == nil {
		e.v = x
		return
	}
	if c, ok := compare(x, e.v); ok && (c > 0) == e.max && c != 0 {
		e.v = x
	}
}
func (e *extreme) merge(o accumulator) { e.add([]any{o.(*extreme).v}) }
func (e *extreme) result() any         { return e.v }

// percentile keeps every value and answers the nearest-rank percentile.
type percentile struct {
	pct    float64
	values []float64
}

func (p *percentile) add(args []any) {
	if args[0] == nil {
		return
	}
	p.values = append(p.values, num(args[0]))
}
func (p *percentile) merge(o accumulator) { p.values = append(p.values, o.(*percentile).values...) }

func (p *percentile) result() any {
	if len(p.values) == 0 {
		return nil
	}
	sort.Float64s(p.values)
	rank := int(math.Ceil(p.pct / 100 * float64(len(p.values))))
	return p.values[max(rank, 1)-1]
}
