-- meridian-audit trail: audit entries by patient or organisation and time range, each with its
-- decision, block and transaction.
--   psql "$DATABASE" -v organization=hospital-ribeira [-v patient=…] [-v from=…] [-v until=…] -f Tools/Indexer/Reports/trail.sql
\set ON_ERROR_STOP 1
\set QUIET 1
\if :{?patient}
\elif :{?organization}
\else
DO $$ BEGIN RAISE EXCEPTION 'give -v patient=ADDRESS or -v organization=ID'; END $$;
\endif
\ir _filters.sql
SELECT to_char(time, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS time, patient, sequence AS seq, organization AS organisation, kind, action, purpose, category,
       CASE WHEN allowed THEN 'allowed' ELSE 'denied' END AS decision, reason, coalesce(transfer_basis, '') AS basis,
       CASE WHEN break_glass THEN 'yes' ELSE '' END AS "break-glass", coalesce(contract, '') AS "policy contract", height AS block, transaction
FROM audit_entries
WHERE (:'patient' = '' OR patient = :'patient')
  AND (:'organization' = '' OR organization = :'organization')
  AND time >= coalesce(nullif(:'from', '')::timestamptz, '-infinity')
  AND time < coalesce(nullif(:'until', '')::timestamptz, 'infinity')
ORDER BY height, patient COLLATE "C", sequence;
