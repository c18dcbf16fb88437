-- Nexmark q0, pass-through: every bid, unchanged. It measures the cost of
-- reading, decoding and writing records.
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

CREATE TABLE q0 (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(64),
  url VARCHAR(256), date_time TIMESTAMP(3), extra VARCHAR(256))
  ENGINE = stream CONNECTION = 'nexmark-q0?format=json';

INSERT INTO q0 SELECT auction, bidder, price, channel, url, date_time, extra FROM bid;
