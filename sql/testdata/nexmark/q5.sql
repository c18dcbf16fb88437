-- Nexmark q5 without its last step, hot items: the number of bids on each
-- auction in 10-second windows every 2 seconds. Nexmark's q5 then keeps,
-- per window, the auctions with the most bids, which takes a join of the
-- counts with their maximum; joins are not built yet.
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

CREATE TABLE q5 (auction BIGINT, num BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3))
  ENGINE = stream CONNECTION = 'nexmark-q5?format=json';

INSERT INTO q5
SELECT auction, COUNT(*) AS num,
       HOP_START(date_time, '2 SECOND', '10 SECOND') AS starttime,
       HOP_END(date_time, '2 SECOND', '10 SECOND') AS endtime
FROM bid
GROUP BY auction, HOP(date_time, '2 SECOND', '10 SECOND');
