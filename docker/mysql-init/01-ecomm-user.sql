-- Run once by the MySQL image when docker-compose.yml first creates its volume.
-- The account `ecomm sync-mysql` uses: exactly the privileges a sync needs on ecommerce_analysis
-- (tests/sync_mysql.rs runs these statements against MariaDB and syncs with such an account).
--   SELECT               verification counts
--   INSERT, DELETE       LOAD DATA / INSERT batches; an incremental sync replaces user_summary's rows
--   CREATE, DROP         stage tables; RENAME TABLE (with ALTER) swaps them in
--   ALTER, INDEX         indexes, EXCHANGE PARTITION, RENAME TABLE
--   CREATE TEMPORARY TABLES   the check whether the server allows LOAD DATA LOCAL INFILE
CREATE USER IF NOT EXISTS 'ecomm'@'%' IDENTIFIED BY 'ecomm';
GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER, INDEX, CREATE TEMPORARY TABLES ON `ecommerce_analysis`.* TO 'ecomm'@'%';
