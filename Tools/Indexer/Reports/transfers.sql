-- meridian-audit transfers: cross-border transfers (allowed accesses whose copy left the custodian's
-- country) by country pair and legal basis, with the blocks they were decided in.
--   psql "$DATABASE" [-v organization=…] [-v patient=…] [-v from=…] [-v until=…] -f Tools/Indexer/Reports/transfers.sql
\ir _filters.sql
SELECT source_country AS "from", destination_country AS "to", transfer_basis AS basis, min(legal_basis) AS "legal basis",
       count(*) AS transfers, string_agg(height::text, ' ' ORDER BY height, patient COLLATE "C", sequence) AS blocks
FROM audit_entries
WHERE allowed AND source_country IS NOT NULL AND source_country IS DISTINCT FROM destination_country
  AND (:'patient' = '' OR patient = :'patient')
  AND (:'organization' = '' OR organization = :'organization')
  AND time >= coalesce(nullif(:'from', '')::timestamptz, '-infinity')
  AND time < coalesce(nullif(:'until', '')::timestamptz, 'infinity')
GROUP BY source_country, destination_country, transfer_basis
ORDER BY source_country COLLATE "C", destination_country COLLATE "C", transfer_basis COLLATE "C";
