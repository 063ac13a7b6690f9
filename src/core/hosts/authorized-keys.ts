/**
 * testum's block inside a host's authorized_keys. Lines between the markers
 * are testum's; every other byte of the file is kept exactly as it was.
 */
export const BLOCK_START = "# >>> testum managed keys: edit with `testum keys`; lines outside this block are left alone >>>";
export const BLOCK_END = "# <<< testum managed keys <<<";

/** A line testum manages: a team key (`key:NAME`) or testum's own identity (`identity:ID`). */
export interface ManagedKey {
  readonly owner: string;
  /** `TYPE BASE64 [COMMENT]` */
  readonly key: string;
}

export interface AuthorizedKeysFile {
  /** Everything before the block (or the whole file when there is none), verbatim. */
  readonly before: string;
  readonly managed: readonly ManagedKey[];
  /** Everything after the block, verbatim. */
  readonly after: string;
  /** Key lines outside the block. */
  readonly unmanagedCount: number;
  readonly hasBlock: boolean;
}

const OWNER_TAG = /\s+testum:([a-z]+:[A-Za-z0-9._-]+)$/;

function countKeys(text: string): number {
  return text.split("\n").filter((l) => l.trim() !== "" && !l.trimStart().startsWith("#")).length;
}

export function parseAuthorizedKeys(content: string | null): AuthorizedKeysFile {
  const text = content ?? "";
  const start = text.indexOf(BLOCK_START + "\n");
  const endMarker = "\n" + BLOCK_END;
  const end = start === -1 ? -1 : text.indexOf(endMarker, start);
  if (start === -1 || end === -1) {
    return { before: text, managed: [], after: "", unmanagedCount: countKeys(text), hasBlock: false };
  }
  const body = text.slice(start + BLOCK_START.length + 1, end);
  let afterStart = end + endMarker.length;
  if (text[afterStart] === "\n") afterStart += 1;
  const before = text.slice(0, start);
  const after = text.slice(afterStart);
  const managed: ManagedKey[] = [];
  for (const line of body.split("\n")) {
    const match = OWNER_TAG.exec(line);
    if (match) managed.push({ owner: match[1]!, key: line.slice(0, match.index) });
  }
  return { before, managed, after, unmanagedCount: countKeys(before) + countKeys(after), hasBlock: true };
}

/** The file with `managed` as testum's block; without managed keys there is no block. */
export function renderAuthorizedKeys(file: AuthorizedKeysFile, managed: readonly ManagedKey[]): string {
  if (managed.length === 0) return file.before + file.after;
  const lead = file.before === "" || file.before.endsWith("\n") ? file.before : file.before + "\n";
  const block = [BLOCK_START, ...managed.map((m) => `${m.key} testum:${m.owner}`), BLOCK_END].join("\n") + "\n";
  return lead + block + file.after;
}

/** Adds or replaces keys by owner, keeping the block's order. */
export function withKeys(current: readonly ManagedKey[], add: readonly ManagedKey[]): ManagedKey[] {
  const result = current.map((m) => add.find((a) => a.owner === m.owner) ?? m);
  for (const key of add) if (!current.some((m) => m.owner === key.owner)) result.push(key);
  return result;
}

/** Removes keys by owner; testum's own identity keys are never removed here. */
export function withoutKeys(current: readonly ManagedKey[], owners: readonly string[]): ManagedKey[] {
  return current.filter((m) => m.owner.startsWith("identity:") || !owners.includes(m.owner));
}
