-- HOP: 1-minute windows every 30 seconds, with 10 seconds of allowed
-- lateness.
CREATE TABLE temps (
  sensor VARCHAR(8) NOT NULL,
  celsius DOUBLE,
  ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 10 SECOND)
) ENGINE = stream CONNECTION = 'temps';

CREATE TABLE stats (sensor VARCHAR(8), hop_start TIMESTAMP(3), hop_end TIMESTAMP(3),
  n BIGINT, lo DOUBLE, hi DOUBLE, mean DOUBLE, p50 DOUBLE)
  ENGINE = stream CONNECTION = 'stats';

INSERT INTO stats
SELECT sensor, HOP_START(ts, '30 SECOND', '1 MINUTE'), HOP_END(ts, '30 SECOND', '1 MINUTE'),
       COUNT(celsius), MIN(celsius), MAX(celsius), AVG(celsius), APPROX_PERCENTILE(celsius, 50)
FROM temps GROUP BY sensor, HOP(ts, '30 SECOND', '1 MINUTE');

-- Worked by hand (want/ must agree): a record belongs to the two windows
-- whose start is the last 30-second boundary at or before it and the one
-- before that. Sensor a keeps 10 (00:10), 20 (00:40), 30 (00:35, out of
-- order but within 10 s) and NULL (01:05); 99 at 00:29 arrives when the
-- watermark is 00:55: late. [00:00, 01:00) holds 10, 20, 30: MIN 10, MAX 30,
-- AVG 20 and the nearest-rank median ceil(0.5 * 3) = 2nd = 20.
-- [00:30, 01:30) holds 20, 30 and the NULL: COUNT(celsius) = 2, median 20.
-- [01:00, 02:00) holds only the NULL: COUNT 0 and NULL aggregates.
-- b's record at 03:00 moves the watermark to 02:50 and closes every window
-- ending by then in one step, emitted by end, then sensor.
