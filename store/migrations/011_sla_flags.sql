-- What the engine found in each dossier's facts (sla_rules.constants, FLAG_*): a supplement
-- request after the deadline, a receipt with no request, supplement facts dated after the result,
-- a processing state with a result date, a refusal after the deadline, and whether an open
-- supplement request stopped the clock (the monthly figures count such a dossier in time).
-- NULL until the next recompute writes them.
ALTER TABLE sla_results ADD COLUMN flags UTINYINT USING COMPRESSION uncompressed;

-- The month a dossier becomes late in changed (late at the month's last instant, not at the next
-- month's first) and the waiting window gave way to the flag above: the stored month facts are
-- dropped, so that the queries read those rows in full until the next recompute writes new ones.
UPDATE sla_results SET month_key = NULL;
