-- SESSION_WINDOW with a 10-second gap and 30 seconds of allowed lateness,
-- so records arrive out of order and sessions merge when a record bridges
-- them.
CREATE TABLE events (
  k VARCHAR(8) NOT NULL,
  v BIGINT,
  ts TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 30 SECOND)
) ENGINE = stream CONNECTION = 'events';

CREATE TABLE sessions (k VARCHAR(8), session_start TIMESTAMP(3), session_end TIMESTAMP(3),
  n BIGINT, total BIGINT, kinds BIGINT)
  ENGINE = stream CONNECTION = 'sessions';

INSERT INTO sessions
SELECT k, SESSION_START(ts, '10 SECOND'), SESSION_END(ts, '10 SECOND'), COUNT(*), SUM(v), COUNT(DISTINCT v % 2)
FROM events GROUP BY k, SESSION_WINDOW(ts, '10 SECOND');

-- Worked by hand (want/ must agree): for x, 00:00 opens [00:00, 00:10);
-- 00:30 opens [00:30, 00:40); 00:15 opens [00:15, 00:25); 00:22 bridges
-- [00:15, 00:25) and [00:30, 00:40) into [00:15, 00:40); 00:08 bridges that
-- and [00:00, 00:10) into [00:00, 00:40): 5 rows, SUM 1+2+3+4+5 = 15, parities
-- {1, 0}. x at 01:40 moves the watermark to 01:10 and closes x's session
-- (end 00:40) and y's two (ends 00:41, 00:55), in order of end. x's 00:50 is
-- then late. At the end of the input x's last session [01:40, 01:59.999)
-- (01:49.999 extended it) closes: 7 + 10 = 17.
