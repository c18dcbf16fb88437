package nexmark

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The event mix and the id spaces of the Nexmark generator (Beam's
// GeneratorConfig and Flink's nexmark port).
const (
	personProportion  = 1
	auctionProportion = 3
	bidProportion     = 46
	proportions       = personProportion + auctionProportion + bidProportion // 50

	// FirstPersonID, FirstAuctionID and FirstCategoryID are the smallest
	// ids of each kind.
	FirstPersonID   = 1000
	FirstAuctionID  = 1000
	FirstCategoryID = 10
	numCategories   = 5

	hotAuctionRatio = 2   // a bid goes to a hot auction with probability 1 - 1/2
	hotBidderRatio  = 4   // a bid comes from a hot bidder with probability 1 - 1/4
	hotSellerRatio  = 4   // an auction is a hot seller's with probability 1 - 1/4
	hotChannelRatio = 100 // a bid comes through a hot channel with probability 1 - 1/100
	numChannels     = 10000
	inFlightAuction = 100  // a cold bid picks one of the last 100 auctions
	activePeople    = 1000 // a cold bidder or seller is one of the last 1000 people

	avgPersonBytes  = 200
	avgAuctionBytes = 500
	avgBidBytes     = 100
)

var (
	hotChannels = []string{"Google", "Facebook", "Baidu", "Apple"}
	usStates    = []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	usCities    = []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	firstNames  = []string{"Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"}
	lastNames   = []string{"Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"}
)

// Config configures a Generator. The zero value is usable: every field has
// a default, applied by NewGenerator.
type Config struct {
	// Seed selects the random stream; the same seed gives the same events.
	// Default 0.
	Seed uint64
	// Rate is how many events happen per second of event time; event n
	// happens at Start + n/Rate seconds (rounded down to the millisecond).
	// Default 10000, Nexmark's default first-event rate.
	Rate int
	// Start is the event time of event 0. Default 2026-01-01T00:00:00Z.
	Start time.Time
}

// Kind is the kind of an event.
type Kind uint8

// The three kinds of Nexmark events.
const (
	KindPerson Kind = iota
	KindAuction
	KindBid
)

// Person is a new user of the auction site.
type Person struct {
	ID           int64
	Name         string
	EmailAddress string
	CreditCard   string
	City         string
	State        string
	DateTime     int64 // milliseconds since the Unix epoch
	Extra        string
}

// Auction is a new item put up for auction by a person.
type Auction struct {
	ID          int64
	ItemName    string
	Description string
	InitialBid  int64
	Reserve     int64
	DateTime    int64 // milliseconds since the Unix epoch
	Expires     int64 // milliseconds since the Unix epoch
	Seller      int64 // a Person's ID
	Category    int64
	Extra       string
}

// Bid is a person's bid on an auction.
type Bid struct {
	Auction  int64 // an Auction's ID
	Bidder   int64 // a Person's ID
	Price    int64 // in cents
	Channel  string
	URL      string
	DateTime int64 // milliseconds since the Unix epoch
	Extra    string
}

// Event is one generated event: Kind says which of Person, Auction and
// Bid is set.
type Event struct {
	Kind    Kind
	Person  Person
	Auction Auction
	Bid     Bid
}

// Generator produces Nexmark events in event-time order. Event n depends
// only on the Config and n (each event draws from its own random stream
// seeded with Seed and n), so any event can be generated on its own.
type Generator struct {
	cfg     Config
	startMs int64
	next    int64
	pcg     *rand.PCG
	rng     *rand.Rand
	urls    []string // the cold channels' urls, by channel number
}

// NewGenerator returns a generator positioned at event 0.
func NewGenerator(cfg Config) *Generator {
	if cfg.Rate <= 0 {
		cfg.Rate = 10000
	}
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	pcg := rand.NewPCG(0, 0)
	g := &Generator{cfg: cfg, startMs: cfg.Start.UnixMilli(), pcg: pcg, rng: rand.New(pcg)}
	return g
}

// Next returns the next event.
func (g *Generator) Next() Event {
	var e Event
	g.Event(g.next, &e)
	g.next++
	return e
}

// Event fills e with event n.
func (g *Generator) Event(n int64, e *Event) {
	g.pcg.Seed(g.cfg.Seed, uint64(n)^0x9e3779b97f4a7c15)
	ts := g.startMs + n*1000/int64(g.cfg.Rate)
	switch off := n % proportions; {
	case off < personProportion:
		e.Kind = KindPerson
		g.person(n, ts, &e.Person)
	case off < personProportion+auctionProportion:
		e.Kind = KindAuction
		g.auction(n, ts, &e.Auction)
	default:
		e.Kind = KindBid
		g.bid(n, ts, &e.Bid)
	}
}

// lastPerson is the base-0 id of the last person created at or before
// event n.
func lastPerson(n int64) int64 {
	epoch, off := n/proportions, n%proportions
	if off >= personProportion {
		off = personProportion - 1
	}
	return epoch*personProportion + off
}

// lastAuction is the base-0 id of the last auction created at or before
// event n (-1 before the first).
func lastAuction(n int64) int64 {
	epoch, off := n/proportions, n%proportions
	switch {
	case off < personProportion:
		epoch--
		off = auctionProportion - 1
	case off >= personProportion+auctionProportion:
		off = auctionProportion - 1
	default:
		off -= personProportion
	}
	return epoch*auctionProportion + off
}

// coldPerson picks one of the last activePeople people created by event n.
// Unlike Beam's generator, which may name up to 10 people not created yet,
// it picks only existing ones.
func (g *Generator) coldPerson(n int64) int64 {
	num := lastPerson(n) + 1
	active := min(num, activePeople)
	return num - active + g.rng.Int64N(active)
}

// coldAuction picks one of the last inFlightAuction auctions created by
// event n (existing ones only, as coldPerson).
func (g *Generator) coldAuction(n int64) int64 {
	last := lastAuction(n)
	lo := max(last-inFlightAuction, 0)
	return lo + g.rng.Int64N(last-lo+1)
}

func (g *Generator) person(n, ts int64, p *Person) {
	r := g.rng
	p.ID = lastPerson(n) + FirstPersonID
	p.Name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
	p.EmailAddress = g.word(7) + "@" + g.word(5) + ".com"
	var cc []byte
	for i := range 4 {
		if i > 0 {
			cc = append(cc, ' ')
		}
		cc = append(cc, strconv.Itoa(10000 + r.IntN(10000))[1:]...)
	}
	p.CreditCard = string(cc)
	p.City = usCities[r.IntN(len(usCities))]
	p.State = usStates[r.IntN(len(usStates))]
	p.DateTime = ts
	size := 8 + len(p.Name) + len(p.EmailAddress) + len(p.CreditCard) + len(p.City) + len(p.State)
	p.Extra = g.extra(size, avgPersonBytes)
}

func (g *Generator) auction(n, ts int64, a *Auction) {
	r := g.rng
	a.ID = lastAuction(n) + FirstAuctionID
	if r.IntN(hotSellerRatio) > 0 {
		a.Seller = lastPerson(n) / hotSellerRatio * hotSellerRatio
	} else {
		a.Seller = g.coldPerson(n)
	}
	a.Seller += FirstPersonID
	a.Category = FirstCategoryID + int64(r.IntN(numCategories))
	a.InitialBid = g.price()
	a.Reserve = a.InitialBid + g.price()
	a.ItemName = g.word(20)
	a.Description = g.word(100)
	a.DateTime = ts
	// Beam sizes auctions so that about inFlightAuction are open at a time;
	// here an auction lasts what 1 to 2×inFlightAuction auctions' worth of
	// events take to happen.
	events := (inFlightAuction + r.Int64N(inFlightAuction+1)) * proportions / auctionProportion
	a.Expires = ts + max(events*1000/int64(g.cfg.Rate), 1)
	size := 8 + len(a.ItemName) + len(a.Description) + 8 + 8 + 8 + 8 + 8
	a.Extra = g.extra(size, avgAuctionBytes)
}

func (g *Generator) bid(n, ts int64, b *Bid) {
	r := g.rng
	if r.IntN(hotAuctionRatio) > 0 {
		b.Auction = lastAuction(n) / hotAuctionRatio * hotAuctionRatio
	} else {
		b.Auction = g.coldAuction(n)
	}
	b.Auction += FirstAuctionID
	if r.IntN(hotBidderRatio) > 0 {
		// The second person of the batch, so that hot bidders are not
		// also hot sellers; lastPerson(n) is at least that person once
		// there are two, else the first.
		b.Bidder = min(lastPerson(n)/hotBidderRatio*hotBidderRatio+1, lastPerson(n))
	} else {
		b.Bidder = g.coldPerson(n)
	}
	b.Bidder += FirstPersonID
	b.Price = g.price()
	if r.IntN(hotChannelRatio) > 0 {
		i := r.IntN(len(hotChannels))
		b.Channel, b.URL = hotChannels[i], hotURL(i)
	} else {
		c := r.IntN(numChannels)
		b.Channel, b.URL = "channel-"+strconv.Itoa(c), g.channelURL(c)
	}
	b.DateTime = ts
	b.Extra = g.extra(32, avgBidBytes)
}

// price is a price in cents, log-uniform between 1 and 1,000,000 dollars.
func (g *Generator) price() int64 {
	return int64(math.Round(math.Pow(10, g.rng.Float64()*6) * 100))
}

// word is 3 to maxLen-1 lowercase letters with the odd space.
func (g *Generator) word(maxLen int) string {
	n := 3 + g.rng.IntN(maxLen-3)
	b := make([]byte, n)
	for i := range b {
		if g.rng.IntN(13) == 0 {
			b[i] = ' '
		} else {
			b[i] = byte('a' + g.rng.IntN(26))
		}
	}
	return string(b)
}

// extra pads a record of size bytes to about avg bytes (±20%).
func (g *Generator) extra(size, avg int) string {
	if size > avg {
		return ""
	}
	want := avg - size
	delta := int(math.Round(float64(want) * 0.2))
	n := want - delta + g.rng.IntN(2*delta+1)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + g.rng.IntN(26))
	}
	return string(b)
}

func hotURL(i int) string {
	return "https://www.nexmark.com/" + hotChannels[i] + "/item.htm?query=1"
}

// channelURL is the fixed url of cold channel c, from a random stream of
// its own so that it does not depend on the event that first names it.
func (g *Generator) channelURL(c int) string {
	if g.urls == nil {
		g.urls = make([]string, numChannels)
	}
	if u := g.urls[c]; u != "" {
		return u
	}
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(c)))
	word := func() string {
		b := make([]byte, 3+r.IntN(5))
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		return string(b)
	}
	u := "https://www.nexmark.com/" + word() + "/" + word() + "/" + word() + "/item.htm?query=1&channel_id=" + strconv.Itoa(c)
	g.urls[c] = u
	return u
}
