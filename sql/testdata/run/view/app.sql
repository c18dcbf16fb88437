-- Views feeding queries: a filtering view keeps its input's event time;
-- a windowed view's window_end is the event time of a second, coarser
-- window over it (per-10-second counts rolled up into 30-second maxima).
CREATE TABLE bids (
  auction BIGINT NOT NULL,
  price BIGINT NOT NULL,
  ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 2 SECOND)
) ENGINE = stream CONNECTION = 'bids';

CREATE TABLE peaks (peak_end TIMESTAMP(3), busiest BIGINT, windows BIGINT)
  ENGINE = stream CONNECTION = 'peaks';

CREATE TABLE big_bids (auction BIGINT, price BIGINT, ts TIMESTAMP(3))
  ENGINE = stream CONNECTION = 'big-bids';

CREATE VIEW real_bids AS SELECT auction, price, ts FROM bids WHERE price > 0;

CREATE VIEW per_10s AS
SELECT auction, TUMBLE_END(ts, '10 SECOND') AS window_end, COUNT(*) AS n
FROM real_bids GROUP BY auction, TUMBLE(ts, '10 SECOND');

INSERT INTO peaks
SELECT TUMBLE_END(window_end, '30 SECOND'), MAX(n), COUNT(*)
FROM per_10s GROUP BY TUMBLE(window_end, '30 SECOND');

INSERT INTO big_bids SELECT auction, price, ts FROM real_bids WHERE price >= 100;

-- Worked by hand (want/ must agree): real_bids drops the price-0 bid; the bid
-- of 14 at 00:07 arrives when the watermark is 00:10 (00:12 - 2 s): late.
-- per_10s: [00:00, 00:10) auction 1 has 10, 12, 13 (n 3) and auction 2 has
-- 150 (n 1); then one bid each in the windows ending 00:20, 00:30, 00:40 and
-- 00:50. peaks groups those rows by window_end: ends 00:10, 00:10, 00:20 fall
-- in [00:00, 00:30) (3 rows, busiest 3), ends 00:30, 00:40, 00:50 in
-- [00:30, 01:00) (3 rows, busiest 1). The first is emitted when the row with
-- window_end 00:30 moves the view's watermark to 00:30.
