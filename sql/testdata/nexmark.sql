-- Nexmark bids, with JSON paths into the generator's nested records.
CREATE TABLE bid (
  auction   BIGINT NOT NULL   COMMENT '$.bid.auction',
  bidder    BIGINT NOT NULL   COMMENT '$.bid.bidder',
  price     BIGINT NOT NULL   COMMENT '$.bid.price',
  channel   VARCHAR(64)       COMMENT '$.bid.channel',
  url       VARCHAR(256)      COMMENT '$.bid.url',
  date_time TIMESTAMP(3) NOT NULL COMMENT '$.bid.dateTime',
  extra     VARCHAR(256)      COMMENT '$.bid.extra',
  watermark TIMESTAMP(3) AS (date_time - INTERVAL 4 SECOND)
) ENGINE = stream CONNECTION = 'nexmark-bids?format=json';

CREATE TABLE q0_out (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR(64),
  url VARCHAR(256), date_time TIMESTAMP(3), extra VARCHAR(256))
  ENGINE = stream CONNECTION = 'q0?format=json';
CREATE TABLE q1_out (auction BIGINT, bidder BIGINT, price DECIMAL(18, 2), date_time TIMESTAMP(3))
  ENGINE = stream CONNECTION = 'q1?format=json';
CREATE TABLE q2_out (auction BIGINT, price BIGINT) ENGINE = stream CONNECTION = 'q2?format=csv';
CREATE TABLE q5_out (auction BIGINT, num BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3))
  ENGINE = stream CONNECTION = 'q5?format=json';

-- q0: pass-through.
INSERT INTO q0_out SELECT * FROM bid;

-- q1: currency conversion.
INSERT INTO q1_out
SELECT auction, bidder, 0.908 * price AS price, date_time FROM bid;

-- q2: selection.
INSERT INTO q2_out
SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;

-- q5-like: bids per auction in hopping windows (q5 proper takes the hottest one).
CREATE VIEW auction_bids AS
SELECT auction, COUNT(*) AS num,
       HOP_START(date_time, '2 SECOND', '10 SECOND') AS starttime,
       HOP_END(date_time, '2 SECOND', '10 SECOND') AS endtime
FROM bid
GROUP BY auction, HOP(date_time, '2 SECOND', '10 SECOND');

INSERT INTO q5_out SELECT auction, num, starttime, endtime FROM auction_bids WHERE num > 1;
