-- Patterns an admin added to what redaction hides in command output
-- (besides the built-in detectors and each host's own secrets). Each match
-- shows as [redacted:NAME]. Checked when added: compiles, is not empty-matching,
-- has no nested unbounded repetition or back-reference, ASCII, ≤ 300 chars.

create table redaction_patterns (
  name text primary key check (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
  pattern text not null check (length(pattern) between 1 and 300),
  created_by text not null,
  created_at timestamptz not null default now()
);
