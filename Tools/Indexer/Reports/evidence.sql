-- meridian-audit evidence: validators caught double-signing (equivocation evidence put on chain),
-- with the block that recorded it.
--   psql "$DATABASE" -f Tools/Indexer/Reports/evidence.sql
\set ON_ERROR_STOP 1
\set QUIET 1
SET TIME ZONE 'UTC';
SELECT e.validator, e.offence_height AS height, e.height AS "recorded in block", to_char(b.time, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "recorded at", e.transaction
FROM evidence e JOIN blocks b ON b.height = e.height
ORDER BY e.height, e.validator COLLATE "C";
