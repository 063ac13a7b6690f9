/**
 * Slack references as core sees them (opaque strings):
 * conversation `slack:TEAM:CHANNEL`, message and thread `slack:TEAM:CHANNEL:TS`
 * (a thread is named by its parent message's ts, as Slack does).
 */
export interface SlackRef {
  readonly team: string;
  readonly channel: string;
  readonly ts?: string;
}

export function encodeConversation(team: string, channel: string): string {
  return `slack:${team}:${channel}`;
}

export function encodeMessage(team: string, channel: string, ts: string): string {
  return `slack:${team}:${channel}:${ts}`;
}

export function decodeRef(ref: string): SlackRef {
  const [platform, team, channel, ts] = ref.split(":");
  if (platform !== "slack" || !team || !channel) throw new Error(`not a Slack reference: ${ref}`);
  return ts ? { team, channel, ts } : { team, channel };
}

export function decodeMessage(ref: string): Required<SlackRef> {
  const decoded = decodeRef(ref);
  if (!decoded.ts) throw new Error(`not a Slack message reference: ${ref}`);
  return decoded as Required<SlackRef>;
}

/** The identity of a Slack user: the org (Enterprise Grid) or workspace, then the user id. */
export function slackIdentity(team: string, enterprise: string | undefined | null, user: string): string {
  return `slack:${enterprise || team}:${user}`;
}
