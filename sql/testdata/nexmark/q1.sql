-- Nexmark q1, currency conversion: each bid's price in euros (dollars ×
-- 0.908). DECIMAL is computed in float64 by hydrant sql run for now.
--
-- Input: bid.jsonl from hydrant sql nexmark (package sql/nexmark).
CREATE TABLE bid (
  auction   BIGINT NOT NULL,
  bidder    BIGINT NOT NULL,
  price     BIGINT NOT NULL,
  channel   VARCHAR(64),
  url       VARCHAR(256),
  date_time TIMESTAMP(3) NOT NULL COMMENT '$.dateTime',
  extra     VARCHAR(256),
  watermark TIMESTAMP(3) AS (date_time - INTERVAL 4 SECOND)
) ENGINE = stream CONNECTION = 'nexmark-bid?format=json';

CREATE TABLE q1 (auction BIGINT, bidder BIGINT, price DECIMAL(23, 3), channel VARCHAR(64),
  url VARCHAR(256), date_time TIMESTAMP(3), extra VARCHAR(256))
  ENGINE = stream CONNECTION = 'nexmark-q1?format=json';

INSERT INTO q1
SELECT auction, bidder, 0.908 * price AS price, channel, url, date_time, extra FROM bid;
