-- Quarantine rows written before the import masked them may hold a citizen's ID or phone number
-- typed into another field (or shifted there by an unquoted comma): mask them as the import now
-- does (config/redact.py, the one definition of the masking). The JSON of the row is masked as text.
UPDATE quarantine
SET value = PII_MASK(value),
    reason = PII_MASK(reason),
    raw = CAST(PII_MASK(raw_text) AS JSON)
FROM (SELECT file_sha256 AS k_file, row_no AS k_row, field AS k_field, CAST(raw AS VARCHAR) AS raw_text
      FROM quarantine) r
WHERE r.k_file = quarantine.file_sha256 AND r.k_row = quarantine.row_no AND r.k_field = quarantine.field;
