-- The example application of DESIGN.md.
CREATE TABLE clicks (                                   -- a source: a delivery stream
  user_id   VARCHAR(64) NOT NULL,
  url       TEXT,
  ts        TIMESTAMP(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts - INTERVAL 5 SECOND)   -- event time = ts, 5 s allowed lateness
) ENGINE = stream CONNECTION = 'clicks?format=json';

CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, country CHAR(2))   -- reference data
  ENGINE = file CONNECTION = 'ref/users.csv?format=csv&refresh=300s';

CREATE TABLE clicks_per_minute (user_id VARCHAR(64), window_end TIMESTAMP(3), n BIGINT)
  ENGINE = stream CONNECTION = 'clicks-per-minute?format=json';      -- a sink: another stream

INSERT INTO clicks_per_minute
SELECT user_id, TUMBLE_END(ts, '1 MINUTE') AS window_end, COUNT(*) AS n
FROM clicks GROUP BY user_id, TUMBLE(ts, '1 MINUTE');
