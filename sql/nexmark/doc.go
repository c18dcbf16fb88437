// Package nexmark generates the Nexmark benchmark's events — people
// joining an auction site, auctions opening and bids on them — for SQL
// applications, and benchmarks Nexmark's queries on hydrant sql run's
// engine (sql/exec).
//
// The event model follows Beam's and Flink's Nexmark generator: events are
// numbered from 0, and of every 50 consecutive events the first is a person,
// the next 3 are auctions and the other 46 are bids. Event n happens at
// Start + n/Rate seconds, so event time advances steadily and in order.
// A bid names a hot auction (the most recent of an even id) half the time and
// otherwise one of the last 100 auctions; a hot bidder three times in four and
// otherwise one of the last 1000 people; an auction's seller likewise. Prices
// are log-uniform between 1 and 1,000,000 dollars, in cents; channels are
// four hot ones (Google, Facebook, Baidu, Apple) 99% of the time and one of
// 10,000 others with a fixed url otherwise; extra pads records to about 200
// (person), 500 (auction) and 100 (bid) bytes. Unlike Beam, a bid or auction
// only ever names people and auctions that already exist. Each event draws
// from its own random stream, seeded with Config.Seed and its number, so a
// seed gives the same events on every run and machine.
//
// Write emits each kind as JSON lines, the input of hydrant sql run:
//
//	hydrant sql nexmark --events 1000000 --output in/
//	hydrant sql run sql/testdata/nexmark/q1.sql --input bid=in/bid.jsonl --output out/
//
// The queries live in sql/testdata/nexmark, one application per query:
// q0 (pass-through), q1 (currency conversion), q2 (selection) and q5 without
// its final step (bids per auction in a hopping window; q5 proper keeps each
// window's hottest auctions, which takes a join). q3, q4, q7 and q8 need
// joins, which the engine does not have yet.
package nexmark
