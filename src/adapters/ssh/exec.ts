/** What a command's output is handed to, and how it ended: shared by one-off execs and the shell session. */
export interface ExecHandlers {
  onStdout(chunk: Buffer): boolean | void;
  onStderr(chunk: Buffer): boolean | void;
  /** Called when a sink that returned false can take more. */
  waitForDrain?(): Promise<void>;
}

export interface ExecResult {
  readonly exitCode: number | null;
  readonly signal: string | null;
}
