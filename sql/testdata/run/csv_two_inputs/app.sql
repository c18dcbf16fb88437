-- Two sources, one CSV and one JSON, read round robin in the order they are
-- declared (as the --input flags would give them): one record from each in
-- turn. Each source has its own watermark. Both feed the same sink.
CREATE TABLE web (user_id VARCHAR(16) NOT NULL, ms BIGINT, ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 1 SECOND))
  ENGINE = stream CONNECTION = 'web?format=csv';

CREATE TABLE app (user_id VARCHAR(16) NOT NULL, ms BIGINT, ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts))
  ENGINE = stream CONNECTION = 'app?format=json';

CREATE TABLE seen (src VARCHAR(8), user_id VARCHAR(16), ms BIGINT) ENGINE = stream CONNECTION = 'seen';

CREATE TABLE slow (src VARCHAR(8), window_end TIMESTAMP(3), n BIGINT, worst BIGINT)
  ENGINE = stream CONNECTION = 'slow';

INSERT INTO seen SELECT 'web', user_id, ms FROM web;
INSERT INTO seen SELECT 'app', user_id, ms FROM app;

INSERT INTO slow SELECT 'web', TUMBLE_END(ts, '5 SECOND'), COUNT(*), MAX(ms)
FROM web WHERE ms > 100 GROUP BY TUMBLE(ts, '5 SECOND');
INSERT INTO slow SELECT 'app', TUMBLE_END(ts, '5 SECOND'), COUNT(*), MAX(ms)
FROM app WHERE ms > 100 GROUP BY TUMBLE(ts, '5 SECOND');

-- Worked by hand (want/ must agree): the order of arrival is w1, a1, w2,
-- a2, w3, a3, w4, w5, w6, w7, which is the order of seen. a3 (00:02) is
-- late against app's watermark 00:04; w4 (00:04.5) is late against web's,
-- 00:05 (w3 at 00:06 minus 1 s), though app's records do not move web's
-- watermark. w5 and w6 do not decode. slow: web [00:00, 00:05) closes when w3
-- arrives, with w1 only (w2's NULL ms fails ms > 100); [00:05, 00:10) closes
-- with w7. At the end of the input the streams close in declaration order:
-- web's [00:10, 00:15) before app's [00:00, 00:05) (a1; a2 is too fast).
