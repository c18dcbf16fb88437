-- Filter and projection: JSON paths from COMMENT, ->>, CASE, CAST,
-- COALESCE/IFNULL, LIKE, string and date functions, arithmetic and NULL as
-- in SQL. No watermark: rows pass straight through, in input order.
CREATE TABLE orders (
  id BIGINT NOT NULL,
  customer VARCHAR(32) COMMENT '$.customer.name',
  country CHAR(2) COMMENT '$.customer.address.country',
  first_item VARCHAR(16) COMMENT '$.items[0].sku',
  qty INT,
  price DECIMAL(10,2),
  note TEXT,
  payload JSON,
  ts DATETIME(3) NOT NULL
) ENGINE = stream CONNECTION = 'orders?format=json';

CREATE TABLE shipped (id BIGINT, who VARCHAR(64), total DOUBLE, size VARCHAR(8), channel VARCHAR(16),
  note_len BIGINT, day VARCHAR(16), later TIMESTAMP(3), qty_text VARCHAR(8), ratio DOUBLE, pad VARCHAR(8),
  country CHAR(2) COMMENT '$.where.country', sku VARCHAR(16))
  ENGINE = stream CONNECTION = 'out?format=json';

INSERT INTO shipped
SELECT id,
       UPPER(COALESCE(customer, 'anonymous')) || '/' || IFNULL(LOWER(country), '??'),
       qty * price,
       CASE WHEN qty >= 10 THEN 'bulk' WHEN qty > 0 THEN 'retail' ELSE 'none' END,
       payload->>'$.channel',
       CHAR_LENGTH(TRIM(note)),
       DATE_FORMAT(ts, '%Y-%m-%d'),
       DATE_ADD(ts, INTERVAL 90 MINUTE),
       CAST(qty AS CHAR),
       qty / 4,
       LPAD(CAST(id AS CHAR), 4, '0'),
       country,
       REPLACE(SUBSTRING(first_item, 1, 6), '-', '_')
FROM orders
WHERE (note IS NULL OR note NOT LIKE '%test%') AND id % 2 = 1 AND NOT (qty < 0);

-- Worked by hand (want/ must agree): order 1: 3 * 2.5 = 7.5; TRIM('  hello ')
-- has 5 characters; 23:00 + 90 minutes is 00:30 the next day; 3 / 4 = 0.75;
-- SUBSTRING('ab-cd-ef', 1, 6) = 'ab-cd-' becomes 'ab_cd_'. Order 3 is a test
-- (LIKE); 2 is even; 7 has qty < 0. Order 5 has qty NULL: NOT (NULL < 0) is
-- NULL, which WHERE treats as false, so it is dropped too. Order 9: qty 0 is
-- 'none', a JSON array under ->> comes back as its JSON text, an empty items
-- array gives a NULL sku. Orders 11 and 13 do not decode: _errors.
