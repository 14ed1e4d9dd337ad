-- What a portal export may say for the 766 scorecard (config/index766.yaml, store/index766_queries.py).
-- NULL = not known: an export without these columns leaves them NULL, and a later file that does
-- not say keeps what an earlier one said (store/dossier_writes.py KEPT_WHEN_BLANK).
ALTER TABLE dossiers ADD COLUMN paid_online BOOLEAN;          -- the fee was paid online (Thanh toán trực tuyến)
ALTER TABLE dossiers ADD COLUMN dossier_digitised BOOLEAN;    -- digitised at reception (Đã số hoá hồ sơ)
ALTER TABLE dossiers ADD COLUMN result_digitised BOOLEAN;     -- the result digitised (Số hoá kết quả)
ALTER TABLE dossiers ADD COLUMN satisfaction_rating SMALLINT; -- the citizen's rating, config.vocabulary RATING scale
