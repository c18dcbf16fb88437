CREATE TABLE events (
  device   VARCHAR(32) NOT NULL,
  kind     VARCHAR(16),
  latency  DOUBLE,
  ok       BOOLEAN,
  payload  JSON,
  ts       DATETIME(3) NOT NULL,
  watermark TIMESTAMP(3) AS (ts)
) ENGINE = stream CONNECTION = 'events';

CREATE TABLE stats (device VARCHAR(32), sessions_start TIMESTAMP(3), n BIGINT, kinds BIGINT,
  p99 DOUBLE, avg_latency DOUBLE, worst DOUBLE, label VARCHAR(64))
  ENGINE = stream CONNECTION = 'stats?format=json';

CREATE TABLE by_proc (kind VARCHAR(16), n BIGINT) ENGINE = stream CONNECTION = 'by-proc';

INSERT INTO stats
SELECT e.device, SESSION_START(ts, '30 SECOND'), COUNT(*), COUNT(DISTINCT kind),
       APPROX_PERCENTILE(latency, 99), AVG(latency), MAX(latency),
       CASE WHEN COUNT(*) > 100 THEN 'busy' ELSE UPPER(e.device) || '-quiet' END
FROM events AS e
WHERE ok AND payload->>'$.region' = 'eu' AND kind IN ('a', 'b') AND latency IS NOT NULL
GROUP BY e.device, SESSION_WINDOW(ts, '30 SECOND')
HAVING SUM(latency) > 0;

INSERT INTO by_proc (n, kind)
SELECT APPROX_COUNT_DISTINCT(device), COALESCE(kind, 'none')
FROM events GROUP BY COALESCE(kind, 'none'), TUMBLE(PROCTIME(), '10 SECOND');
