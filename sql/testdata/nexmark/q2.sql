-- Nexmark q2, selection: the bids on auctions whose id is a multiple of
-- 123 (Beam's and Flink's q2; the original paper lists a set of ids).
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

CREATE TABLE q2 (auction BIGINT, price BIGINT) ENGINE = stream CONNECTION = 'nexmark-q2?format=json';

INSERT INTO q2 SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
