-- Stands in for the other migration 015 being written at the same time on another branch, so that
-- this branch's 016 applies (migrations are numbered 1..n). Drop this file when merging.
SELECT 1;
