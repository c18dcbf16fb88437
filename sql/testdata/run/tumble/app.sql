-- TUMBLE with 5 s of allowed lateness: out-of-order records within the
-- lateness count, a later one goes to the error stream, a minute without
-- records emits nothing, HAVING drops a group.
CREATE TABLE clicks (
  user_id   VARCHAR(64) NOT NULL,
  url       TEXT,
  bytes     BIGINT,
  ts        TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 5 SECOND)
) ENGINE = stream CONNECTION = 'clicks?format=json';

CREATE TABLE per_minute (user_id VARCHAR(64), window_start TIMESTAMP(3), window_end TIMESTAMP(3),
  n BIGINT, urls BIGINT, bytes BIGINT, avg_bytes DOUBLE)
  ENGINE = stream CONNECTION = 'per-minute';

CREATE TABLE busy (user_id VARCHAR(64), window_end TIMESTAMP(3), n BIGINT)
  ENGINE = stream CONNECTION = 'busy';

INSERT INTO per_minute
SELECT user_id, TUMBLE_START(ts, '1 MINUTE'), TUMBLE_END(ts, '1 MINUTE'),
       COUNT(*), COUNT(DISTINCT url), SUM(bytes), AVG(bytes)
FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');

INSERT INTO busy
SELECT user_id, TUMBLE_END(ts, '1 MINUTE'), COUNT(*)
FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE') HAVING COUNT(*) >= 2;

-- Worked by hand (want/ must agree):
-- * Line 4 (ann 00:01:03) moves the watermark to 00:00:58; bob's 00:00:58
--   (line 5) is exactly at the watermark, so not late, and joins [00:00, 00:01).
-- * Line 6 (ann 00:01:06) moves the watermark to 00:01:01, past 00:01:00: both
--   [00:00, 00:01) windows are emitted, ann before bob. ann: 100 + 200 = 300
--   bytes, AVG 150, 2 distinct urls; bob: 2 rows but one has no bytes, so
--   SUM 50 and AVG 50 (NULLs are skipped), urls /a and /c.
-- * bob's 00:00:59 (line 7) is now behind the watermark: late, to _errors.
-- * No records fall in [00:02, 00:03): no row for it. ann's [00:03, 00:04)
--   counts one NULL url, so COUNT(DISTINCT url) = 1.
-- * busy: bob's [00:03, 00:04) has one row and fails HAVING COUNT(*) >= 2.
