package nexmark

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hydrantio/hydrant/sql"
	"github.com/hydrantio/hydrant/sql/exec"
)

func TestGeneratorDeterministic(t *testing.T) {
	gen := func(seed uint64) string {
		var p, a, b bytes.Buffer
		if _, err := NewGenerator(Config{Seed: seed}).Write(2000, &p, &a, &b); err != nil {
			t.Fatal(err)
		}
		return p.String() + a.String() + b.String()
	}
	if gen(7) != gen(7) {
		t.Errorf("two generators with seed 7 differ")
	}
	if gen(7) == gen(8) {
		t.Errorf("seeds 7 and 8 give the same events")
	}
	// Event n is the same whether generated in sequence or on its own.
	g, h := NewGenerator(Config{Seed: 3}), NewGenerator(Config{Seed: 3})
	var seq []Event
	for range 500 {
		seq = append(seq, g.Next())
	}
	for _, n := range []int64{499, 0, 137, 4, 50} {
		var e Event
		h.Event(n, &e)
		if e != seq[n] {
			t.Errorf("Event(%d) = %+v; want %+v, as generated in sequence", n, e, seq[n])
		}
	}
}

// TestGeneratorModel checks Nexmark's event model on 10,000 events: the
// 1:3:46 mix, ids, event time at the configured rate, and references only
// to people and auctions that exist.
func TestGeneratorModel(t *testing.T) {
	const n, rate = 10000, 2500
	start := time.Date(2030, 5, 1, 12, 0, 0, 0, time.UTC)
	g := NewGenerator(Config{Seed: 1, Rate: rate, Start: start})
	var people, auctions, bids, hotChannel int64
	var lastTime int64 = -1
	for i := range int64(n) {
		e := g.Next()
		var ts int64
		switch e.Kind {
		case KindPerson:
			p := e.Person
			if p.ID != FirstPersonID+people {
				t.Fatalf("event %d: person id %d; want %d", i, p.ID, FirstPersonID+people)
			}
			if len(p.CreditCard) != 19 || p.Name == "" || !strings.HasSuffix(p.EmailAddress, ".com") {
				t.Errorf("event %d: person %+v", i, p)
			}
			people++
			ts = p.DateTime
		case KindAuction:
			a := e.Auction
			if a.ID != FirstAuctionID+auctions {
				t.Fatalf("event %d: auction id %d; want %d", i, a.ID, FirstAuctionID+auctions)
			}
			if a.Seller < FirstPersonID || a.Seller >= FirstPersonID+people {
				t.Errorf("event %d: auction by seller %d; people %d to %d exist", i, a.Seller, FirstPersonID, FirstPersonID+people-1)
			}
			if a.Category < FirstCategoryID || a.Category >= FirstCategoryID+numCategories || a.Reserve <= a.InitialBid || a.InitialBid < 100 || a.Expires <= a.DateTime {
				t.Errorf("event %d: auction %+v", i, a)
			}
			auctions++
			ts = a.DateTime
		case KindBid:
			b := e.Bid
			if b.Auction < FirstAuctionID || b.Auction >= FirstAuctionID+auctions {
				t.Errorf("event %d: bid on auction %d; auctions %d to %d exist", i, b.Auction, FirstAuctionID, FirstAuctionID+auctions-1)
			}
			if b.Bidder < FirstPersonID || b.Bidder >= FirstPersonID+people {
				t.Errorf("event %d: bid by %d; people %d to %d exist", i, b.Bidder, FirstPersonID, FirstPersonID+people-1)
			}
			if b.Price < 100 || b.Price > 100_000_000 || b.Channel == "" || !strings.HasPrefix(b.URL, "https://www.nexmark.com/") {
				t.Errorf("event %d: bid %+v", i, b)
			}
			if slices.Contains(hotChannels, b.Channel) {
				hotChannel++
			}
			bids++
			ts = b.DateTime
		}
		if want := start.UnixMilli() + i*1000/rate; ts != want {
			t.Fatalf("event %d at %d; want %d (rate %d/s)", i, ts, want, rate)
		}
		if ts < lastTime {
			t.Fatalf("event %d at %d, before the previous event's %d", i, ts, lastTime)
		}
		lastTime = ts
	}
	if people != 200 || auctions != 600 || bids != 9200 {
		t.Errorf("%d events: %d people, %d auctions, %d bids; want 200, 600, 9200", n, people, auctions, bids)
	}
	if hotChannel < bids*97/100 {
		t.Errorf("%d of %d bids through hot channels; want about 99%%", hotChannel, bids)
	}
}

func TestWriteJSON(t *testing.T) {
	var p, a, b bytes.Buffer
	c, err := NewGenerator(Config{Seed: 5}).Write(1000, &p, &a, &b)
	if err != nil || c != (Counts{Persons: 20, Auctions: 60, Bids: 920}) {
		t.Fatalf("Write(1000) = %+v, %v; want 20, 60, 920", c, err)
	}
	g := NewGenerator(Config{Seed: 5})
	lines := map[Kind][]string{KindPerson: lines(&p), KindAuction: lines(&a), KindBid: lines(&b)}
	next := map[Kind]int{}
	for range 1000 {
		e := g.Next()
		line := lines[e.Kind][next[e.Kind]]
		next[e.Kind]++
		var got, want map[string]any
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		switch e.Kind {
		case KindPerson:
			p := e.Person
			want = map[string]any{"id": p.ID, "name": p.Name, "emailAddress": p.EmailAddress, "creditCard": p.CreditCard,
				"city": p.City, "state": p.State, "dateTime": rfc3339(p.DateTime), "extra": p.Extra}
		case KindAuction:
			a := e.Auction
			want = map[string]any{"id": a.ID, "itemName": a.ItemName, "description": a.Description, "initialBid": a.InitialBid,
				"reserve": a.Reserve, "dateTime": rfc3339(a.DateTime), "expires": rfc3339(a.Expires), "seller": a.Seller,
				"category": a.Category, "extra": a.Extra}
		case KindBid:
			b := e.Bid
			want = map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "channel": b.Channel,
				"url": b.URL, "dateTime": rfc3339(b.DateTime), "extra": b.Extra}
		}
		if canon(got) != canon(want) {
			t.Fatalf("line %s; want %s", line, canon(want))
		}
	}
}

// TestQueries runs each query of ../testdata/nexmark over the bids of
// 10,000 generated events, as hydrant sql run does, and checks its rows
// against a computation in Go straight from the generator's bids: in order
// for q0, q1 and q2, whose rows follow their input; as a set for q5, whose
// order is the engine's (by window end, then auction).
func TestQueries(t *testing.T) {
	g := NewGenerator(Config{Seed: 42, Rate: 1000}) // 10 s of event time: several q5 windows
	var bidsJSON bytes.Buffer
	if _, err := g.Write(10000, nil, nil, &bidsJSON); err != nil {
		t.Fatal(err)
	}
	var bids []Bid
	for i := range int64(10000) {
		var e Event
		g.Event(i, &e)
		if e.Kind == KindBid {
			bids = append(bids, e.Bid)
		}
	}
	refs := map[string]func() []map[string]any{
		"q0": func() []map[string]any {
			var rows []map[string]any
			for _, b := range bids {
				rows = append(rows, bidRow(b))
			}
			return rows
		},
		"q1": func() []map[string]any {
			var rows []map[string]any
			for _, b := range bids {
				r := bidRow(b)
				r["price"] = float64(b.Price) * 0.908
				rows = append(rows, r)
			}
			return rows
		},
		"q2": func() []map[string]any {
			var rows []map[string]any
			for _, b := range bids {
				if b.Auction%123 == 0 {
					rows = append(rows, map[string]any{"auction": b.Auction, "price": b.Price})
				}
			}
			return rows
		},
		"q5": func() []map[string]any {
			type key struct{ auction, start int64 }
			counts := map[key]int64{}
			for _, b := range bids {
				// The 10 s windows every 2 s that hold b: starts at
				// multiples of 2 s in (t-10 s, t].
				for s := b.DateTime - b.DateTime%2000; s > b.DateTime-10000; s -= 2000 {
					counts[key{b.Auction, s}]++
				}
			}
			var rows []map[string]any
			for k, n := range counts {
				rows = append(rows, map[string]any{"auction": k.auction, "num": n,
					"starttime": rfc3339(k.start), "endtime": rfc3339(k.start + 10000)})
			}
			return rows
		},
	}
	ordered := map[string]bool{"q0": true, "q1": true, "q2": true}
	for _, q := range []string{"q0", "q1", "q2", "q5"} {
		t.Run(q, func(t *testing.T) {
			app := loadQuery(t, q)
			var out, errs bytes.Buffer
			stats, err := runQuery(app, bidsJSON.Bytes(), &out, &errs)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if errs.Len() > 0 || stats.Errors > 0 {
				t.Fatalf("%d records on the error stream, first %s", stats.Errors, firstLine(errs.String()))
			}
			var got, want []string
			for _, line := range lines(&out) {
				var m map[string]any
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("output %s: %v", line, err)
				}
				got = append(got, canon(m))
			}
			for _, r := range refs[q]() {
				want = append(want, canon(r))
			}
			if !ordered[q] {
				slices.Sort(got)
				slices.Sort(want)
			}
			if len(want) == 0 {
				t.Fatalf("the reference has no rows: a vacuous check")
			}
			t.Logf("%s: %d rows from %d bids", q, len(got), len(bids))
			if len(got) != len(want) {
				t.Errorf("%s wrote %d rows; want %d", q, len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%s row %d = %s; want %s", q, i, got[i], want[i])
				}
			}
		})
	}
}

// loadQuery parses ../testdata/nexmark/<name>.sql.
func loadQuery(tb testing.TB, name string) *sql.App {
	tb.Helper()
	path := filepath.Join("..", "testdata", "nexmark", name+".sql")
	src, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	app, err := sql.Parse(path, src)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", path, err)
	}
	return app
}

// runQuery runs app, a Nexmark query with one source table bid and one
// sink, over bids (JSON lines), as hydrant sql run does.
func runQuery(app *sql.App, bids []byte, out, errs io.Writer) (*exec.Stats, error) {
	sinks := exec.SinkTables(app)
	if len(sinks) != 1 {
		return nil, fmt.Errorf("%d sink tables; want 1", len(sinks))
	}
	return exec.Run(context.Background(), app,
		[]exec.Input{{Table: "bid", Name: "bid.jsonl", R: bytes.NewReader(bids)}},
		exec.Output{Sinks: map[string]io.Writer{sinks[0].Name: out}, Errors: errs})
}

func bidRow(b Bid) map[string]any {
	return map[string]any{"auction": b.Auction, "bidder": b.Bidder, "price": b.Price, "channel": b.Channel,
		"url": b.URL, "date_time": rfc3339(b.DateTime), "extra": b.Extra}
}

func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// canon renders a row as JSON with sorted keys, numbers as float64: the
// engine's output and the reference compare equal exactly when their values
// do.
func canon(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(err)
	}
	b, _ = json.Marshal(v)
	return string(b)
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
