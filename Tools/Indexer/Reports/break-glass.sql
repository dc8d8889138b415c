-- meridian-audit break-glass: every break-glass attempt, allowed or denied, with its block and
-- transaction, then the totals per organisation.
--   psql "$DATABASE" [-v organization=…] [-v from=…] [-v until=…] -f Tools/Indexer/Reports/break-glass.sql
\ir _filters.sql
CREATE TEMP VIEW break_glass AS
SELECT * FROM audit_entries
WHERE break_glass
  AND (:'patient' = '' OR patient = :'patient')
  AND (:'organization' = '' OR organization = :'organization')
  AND time >= coalesce(nullif(:'from', '')::timestamptz, '-infinity')
  AND time < coalesce(nullif(:'until', '')::timestamptz, 'infinity');

SELECT organization AS organisation, to_char(time, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time, patient, purpose, category,
       CASE WHEN allowed THEN 'allowed' ELSE 'denied' END AS decision, reason, coalesce(transfer_basis, '') AS basis, height AS block, transaction
FROM break_glass
ORDER BY height, patient COLLATE "C", sequence;

SELECT organization AS organisation, count(*) FILTER (WHERE allowed) AS "break-glass allowed", count(*) FILTER (WHERE NOT allowed) AS "break-glass denied"
FROM break_glass
GROUP BY organization
ORDER BY organization COLLATE "C";
