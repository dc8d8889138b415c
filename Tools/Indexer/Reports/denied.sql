-- meridian-audit denied: denied access attempts with their reasons and routes.
--   psql "$DATABASE" [-v organization=…] [-v patient=…] [-v from=…] [-v until=…] -f Tools/Indexer/Reports/denied.sql
\ir _filters.sql
SELECT to_char(time, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time, organization AS organisation, patient, purpose, category, reason,
       coalesce(source_country, '?') || '→' || coalesce(destination_country, '?') AS route, height AS block, transaction
FROM audit_entries
WHERE NOT allowed
  AND (:'patient' = '' OR patient = :'patient')
  AND (:'organization' = '' OR organization = :'organization')
  AND time >= coalesce(nullif(:'from', '')::timestamptz, '-infinity')
  AND time < coalesce(nullif(:'until', '')::timestamptz, 'infinity')
ORDER BY height, patient COLLATE "C", sequence;
