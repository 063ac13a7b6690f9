/**
 * Slack's inbound text → plain text for core's grammar. Slack escapes `&`,
 * `<` and `>` in slash command text and wraps links and mentions in angle
 * brackets; user and group mentions become testum identities
 * (`@slack:T…:U…`) so core never sees Slack syntax.
 */
export function decodeSlackText(text: string, org: string): string {
  return text
    .replace(/<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g, (_, user: string) => `@slack:${org}:${user}`)
    .replace(/<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>/g, (_, group: string) => `@slack:${org}:group:${group}`)
    .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_, channel: string, name?: string) => `#${name || channel}`)
    .replace(/<(?:mailto:)?([^>|]+)(?:\|[^>]*)?>/g, (_, link: string) => link)
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}
