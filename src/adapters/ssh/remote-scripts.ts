/**
 * The shell text testum sends to hosts to start commands and to stop them.
 * Everything here is POSIX sh; nothing a user typed reaches it unquoted.
 */

/** Single-quotes a string for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Prints the shell's pid behind a marker, before the command runs: how testum learns it started, and what to stop. */
export const REPORT_PID = `printf '\\036testum-pid %s\\n' "$$"`;

/**
 * sshd starts a non-PTY command as the leader of a new session, so the
 * login shell's `$$` names the session and process group of everything the
 * command starts. The wrapper reports it, then hands over to the user's shell.
 */
export function wrapCommand(command: string, tag?: string): string {
  if (tag !== undefined && !/^[0-9a-f]+$/.test(tag)) throw new Error("a task tag is hexadecimal");
  return `${tag ? `TESTUM_TASK=${tag}; export TESTUM_TASK; ` : ""}${REPORT_PID}; exec "$SHELL" -c ${shellQuote(command)}`;
}

/** Signals an exec'd command: sshd made its shell a session leader, so its process group and its session. */
export function signalScript(signal: "TERM" | "KILL", pid: number): string {
  // `kill -- -1` would signal every process of the account: a pid line is never trusted that far.
  if (!Number.isInteger(pid) || pid <= 1) throw new Error("a command's pid is a number above 1");
  return `kill -${signal} -- -${pid} 2>/dev/null; pkill -${signal} -s ${pid} 2>/dev/null; true`;
}

/**
 * Signals a shell session's command (see shell-session.ts): every process
 * whose environment carries its tag, and, while its shell (`pid`) still
 * carries the tag, every descendant of that shell, also one that cleared its
 * environment. grep -z reads every environment at once; without it, one at a
 * time.
 */
export function taskSignalScript(signal: "TERM" | "KILL" | "0", tag: string, pid: number | undefined): string {
  if (!/^[0-9a-f]+$/.test(tag)) throw new Error("a task tag is hexadecimal");
  if (pid !== undefined && (!Number.isInteger(pid) || pid <= 1)) throw new Error("a task's pid is a number above 1");
  const descendants = `{ up[$1] = $2 } END { for (p in up) { q = p; n = 0; while (q != r && (q in up) && n++ < 4096) q = up[q]; if (q == r) print p } }`;
  return [
    `e='TESTUM_TASK=${tag}'`,
    `if printf 'x\\0' | grep -qzx x 2>/dev/null; then tagged() { grep -lzx "$e" "$@" 2>/dev/null; }`,
    `else tagged() { for f; do tr '\\0' '\\n' <"$f" 2>/dev/null | grep -qx "$e" && echo "$f"; done; }; fi`,
    `l=$(tagged /proc/[0-9]*/environ); d=`,
    ...(pid === undefined ? [] : [`if [ -n "$(tagged /proc/${pid}/environ)" ]; then d=$(ps -e -o pid= -o ppid= 2>/dev/null | awk -v r=${pid} '${descendants}'); fi`]),
    `n=0; for f in $l; do p=\${f#/proc/}; kill -${signal} "\${p%/environ}" 2>/dev/null && n=$((n + 1)); done`,
    `for p in $d; do kill -${signal} "$p" 2>/dev/null && n=$((n + 1)); done`,
    // How many processes the signal reached (signal 0: how many are there).
    `echo "$n"`,
  ].join("\n");
}
