-- Who may do what (roles bound to chat identities or platform groups, scoped
-- to hosts), the risk policy, and approvals of risky jobs.

create table role_bindings (
  id bigserial primary key,
  -- an identity (slack:T:U, discord:G:U) or a platform group (discord:G:role:R, slack:T:group:S)
  subject text not null,
  role text not null check (role in ('viewer', 'operator', 'approver', 'admin')),
  -- a host name, tag=value, or *
  selector text not null default '*',
  created_by text not null,
  created_at timestamptz not null default now(),
  unique (subject, role, selector)
);

create table risk_patterns (
  id bigserial primary key,
  -- a regular expression (JavaScript syntax), matched case-insensitively
  -- against the command with quoting and extra whitespace removed
  pattern text not null unique,
  description text not null,
  created_by text not null default 'testum',
  created_at timestamptz not null default now()
);

insert into risk_patterns (pattern, description) values
  ('\brm\s+(-\S+\s+)*(-[a-z]*r[a-z]*|--recursive)\b', 'recursive rm'),
  ('\bmkfs(\.[a-z0-9]+)?\b', 'mkfs (makes a filesystem)'),
  ('\bdd\b.*\bof=/dev/', 'dd to a device'),
  ('(?<![\w-])(shutdown|reboot|halt|poweroff)(?![\w-])|\binit\s+[06]\b', 'shutdown, reboot, halt or poweroff'),
  ('\bsystemctl\s+(-\S+\s+)*(stop|restart|disable|mask|kill|reboot|poweroff|halt)\b', 'systemctl stop, restart or disable'),
  ('\b(kill|pkill|killall)\s+(.*\s)?(-9|-kill|-sigkill|-s\s+(9|kill|sigkill))\b', 'kill -9'),
  ('\b(ip6?tables|iptables-legacy|iptables-nft)\s+(.*\s)?(-f|--flush)\b|\bnft\s+flush\b', 'iptables -F (flush firewall rules)'),
  ('\bdrop\s+(table|database|schema|index|user|role)\b|\btruncate\b', 'SQL DROP or TRUNCATE'),
  ('>\s*/dev/(sd|hd|vd|xvd|nvme|mmcblk)|\bof=/dev/(sd|hd|vd|xvd|nvme|mmcblk)', 'write to a disk device (/dev/sd*)'),
  ('\b(chmod|chown|chgrp)\s+(.*\s)?(-[a-z]*r[a-z]*|--recursive)\b', 'recursive chmod or chown');

alter table jobs drop constraint jobs_status_check;
alter table jobs add constraint jobs_status_check
  check (status in ('awaiting_approval', 'queued', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'lost', 'rejected', 'expired'));

alter table jobs
  -- why the job needs approval (empty when it does not)
  add column approval_reasons jsonb not null default '[]'::jsonb,
  -- hash of the command, the resolved hosts and the options the approval is for
  add column approval_hash text,
  add column approvals_required integer not null default 0,
  add column approval_expires_at timestamptz,
  -- the request message with the Approve and Reject buttons
  add column approval_message text;

create table approvals (
  job_id bigint not null references jobs (id) on delete cascade,
  approver text not null,
  approver_name text,
  decision text not null check (decision in ('approve', 'reject')),
  reason text,
  at timestamptz not null default now(),
  primary key (job_id, approver)
);
