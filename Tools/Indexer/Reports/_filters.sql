-- Shared by every report: the optional psql variables and UTC for dates (as meridian-audit reads them).
--   -v patient=ADDRESS   -v organization=ID   -v from=YYYY-MM-DD[THH:MM:SS[.mmm]Z]   -v until=… (exclusive)
\if :{?patient} \else \set patient '' \endif
\if :{?organization} \else \set organization '' \endif
\if :{?from} \else \set from '' \endif
\if :{?until} \else \set until '' \endif
\set ON_ERROR_STOP 1
\set QUIET 1
SET TIME ZONE 'UTC';
