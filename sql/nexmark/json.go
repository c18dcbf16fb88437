package nexmark

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Each table is written as JSON lines, one object per event with the
// fields of Nexmark's JSON records; dateTime and expires are RFC 3339 UTC
// with milliseconds, as hydrant sql run writes timestamps. The generator's
// strings are printable ASCII, for which strconv.AppendQuote is JSON.

// AppendJSON appends p as one JSON object, without a newline.
func (p *Person) AppendJSON(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, `{"id":`...), p.ID, 10)
	dst = strconv.AppendQuote(append(dst, `,"name":`...), p.Name)
	dst = strconv.AppendQuote(append(dst, `,"emailAddress":`...), p.EmailAddress)
	dst = strconv.AppendQuote(append(dst, `,"creditCard":`...), p.CreditCard)
	dst = strconv.AppendQuote(append(dst, `,"city":`...), p.City)
	dst = strconv.AppendQuote(append(dst, `,"state":`...), p.State)
	dst = AppendTime(append(dst, `,"dateTime":`...), p.DateTime)
	dst = strconv.AppendQuote(append(dst, `,"extra":`...), p.Extra)
	return append(dst, '}')
}

// AppendJSON appends a as one JSON object, without a newline.
func (a *Auction) AppendJSON(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, `{"id":`...), a.ID, 10)
	dst = strconv.AppendQuote(append(dst, `,"itemName":`...), a.ItemName)
	dst = strconv.AppendQuote(append(dst, `,"description":`...), a.Description)
	dst = strconv.AppendInt(append(dst, `,"initialBid":`...), a.InitialBid, 10)
	dst = strconv.AppendInt(append(dst, `,"reserve":`...), a.Reserve, 10)
	dst = AppendTime(append(dst, `,"dateTime":`...), a.DateTime)
	dst = AppendTime(append(dst, `,"expires":`...), a.Expires)
	dst = strconv.AppendInt(append(dst, `,"seller":`...), a.Seller, 10)
	dst = strconv.AppendInt(append(dst, `,"category":`...), a.Category, 10)
	dst = strconv.AppendQuote(append(dst, `,"extra":`...), a.Extra)
	return append(dst, '}')
}

// AppendJSON appends b as one JSON object, without a newline.
func (b *Bid) AppendJSON(dst []byte) []byte {
	dst = strconv.AppendInt(append(dst, `{"auction":`...), b.Auction, 10)
	dst = strconv.AppendInt(append(dst, `,"bidder":`...), b.Bidder, 10)
	dst = strconv.AppendInt(append(dst, `,"price":`...), b.Price, 10)
	dst = strconv.AppendQuote(append(dst, `,"channel":`...), b.Channel)
	dst = strconv.AppendQuote(append(dst, `,"url":`...), b.URL)
	dst = AppendTime(append(dst, `,"dateTime":`...), b.DateTime)
	dst = strconv.AppendQuote(append(dst, `,"extra":`...), b.Extra)
	return append(dst, '}')
}

// AppendTime appends ms (milliseconds since the Unix epoch) as a quoted
// RFC 3339 UTC timestamp with milliseconds.
func AppendTime(dst []byte, ms int64) []byte {
	dst = append(dst, '"')
	dst = time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	return append(dst, '"')
}

// Counts is how many events of each kind Write wrote.
type Counts struct {
	Persons, Auctions, Bids int64
}

// Write generates events 0 to n-1 and writes each kind as JSON lines to
// its writer; a nil writer skips that kind. Next then returns event n.
func (g *Generator) Write(n int64, persons, auctions, bids io.Writer) (Counts, error) {
	var c Counts
	ws := [3]*bufio.Writer{}
	for i, w := range []io.Writer{persons, auctions, bids} {
		if w != nil {
			ws[i] = bufio.NewWriterSize(w, 64<<10)
		}
	}
	var e Event
	var buf []byte
	for i := range n {
		g.Event(i, &e)
		w := ws[e.Kind]
		switch e.Kind {
		case KindPerson:
			c.Persons++
		case KindAuction:
			c.Auctions++
		case KindBid:
			c.Bids++
		}
		if w == nil {
			continue
		}
		switch e.Kind {
		case KindPerson:
			buf = e.Person.AppendJSON(buf[:0])
		case KindAuction:
			buf = e.Auction.AppendJSON(buf[:0])
		case KindBid:
			buf = e.Bid.AppendJSON(buf[:0])
		}
		if _, err := w.Write(append(buf, '\n')); err != nil {
			return c, fmt.Errorf("cannot write event %d: %w", i, err)
		}
	}
	for _, w := range ws {
		if w == nil {
			continue
		}
		if err := w.Flush(); err != nil {
			return c, fmt.Errorf("cannot write events: %w", err)
		}
	}
	g.next = n
	return c, nil
}
