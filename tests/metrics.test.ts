import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiscordApi } from "../src/adapters/discord/chat.js";
import { countDiscordCalls } from "../src/adapters/discord/connect.js";
import { processRegistry } from "../src/adapters/metrics/process.js";
import { startFakeDiscord } from "./fakes/discord-api.js";
import { jobIdFrom, startSlackWorld, type SlackWorld } from "./helpers/slack-world.js";
import { freePort } from "./helpers/sshd.js";
import { eventually } from "./helpers/testum.js";

const TOKEN = "metrics-token-for-tests";
let world: SlackWorld;
let worker: ChildProcess;
let workerPort: number;

beforeAll(async () => {
  // The web side runs here; the worker is a process of its own, as in production.
  world = await startSlackWorld({ hosts: 1, testum: { work: false, env: { METRICS_TOKEN: TOKEN } } });
  await world.addHost("web-1", world.ssh.hosts[0]!);
  workerPort = await freePort();
  worker = spawn(process.execPath, ["bin/testum.js", "worker"], {
    env: { ...process.env, ...world.testum.env, WORKER_PORT: String(workerPort), LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  worker.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  worker.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  await eventually("the worker to start", () => output.includes("worker is running"), 30_000);
});

afterAll(async () => {
  worker?.kill("SIGKILL");
  await world?.stop();
});

/** Prometheus' text format as `series → value` (`name{labels}` exactly as printed). */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  const series = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-z_:]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) series.set(m[1]!, Number(m[2]));
  }
  return series;
}

describe("/metrics", () => {
  it("on the web side and on the worker, after a job: every series, and a token is required when set", async () => {
    // One 429 on the parent message: counted, then waited out.
    world.slack.failNext("chat.postMessage", { status: 429, retryAfter: 1 }, 1);
    const res = await world.slash("run web-1 'echo metrics'");
    const id = jobIdFrom(String(res.json?.text));
    expect((await world.finished(id)).status).toBe("succeeded");

    expect((await fetch(`${world.testum.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${world.testum.url}/metrics`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${workerPort}/metrics`)).status).toBe(401);

    const web = await scrape(world.testum.url);
    expect(web.get('testum_jobs{status="succeeded",platform="slack"}')).toBe(1);
    expect(web.get("testum_approvals_pending")).toBe(0);
    expect(web.get("testum_schedule_approvals_pending")).toBe(0);
    expect(web.get("testum_queue_oldest_job_age_seconds")).toBe(0);
    expect(web.get('testum_queue_jobs{state="waiting"}')).toBe(0);
    expect(web.get("testum_audit_rows")).toBeGreaterThanOrEqual(4);
    expect(web.get("testum_schedule_missed_fires")).toBe(0);
    expect(web.get('testum_metrics_source_up{source="postgres"}')).toBe(1);
    expect(web.get('testum_metrics_source_up{source="redis"}')).toBe(1);
    expect(web.get("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(web.has("nodejs_eventloop_lag_seconds")).toBe(true);

    const work = await eventually("the worker's log bytes", async () => {
      const s = await scrape(`http://127.0.0.1:${workerPort}`);
      return (s.get("testum_log_bytes_stored_total") ?? 0) > 0 ? s : undefined;
    });
    expect(work.get('testum_jobs{status="succeeded",platform="slack"}')).toBe(1);
    expect(work.get('testum_task_duration_seconds_count{status="succeeded"}')).toBe(1);
    expect(work.get('testum_ssh_connect_seconds_count{outcome="ok"}')).toBe(1);
    expect(work.get("testum_ssh_connections_open")).toBe(1);
    expect(work.get("testum_ssh_connections_pooled")).toBe(1);
    // The command's output plus the job report.
    expect(work.get("testum_log_bytes_stored_total")).toBeGreaterThan("metrics\n".length);
    // Chat messages are delivered by whichever process takes them from the outbox: count both.
    const both = (series: string) => (web.get(series) ?? 0) + (work.get(series) ?? 0);
    // The parent, the live reply, and the refused first attempt.
    expect(both('testum_chat_api_calls_total{platform="slack",method="chat.postMessage"}')).toBeGreaterThanOrEqual(3);
    expect(both('testum_chat_api_rate_limited_total{platform="slack",method="chat.postMessage"}')).toBe(1);
    expect(work.get("process_resident_memory_bytes")).toBeGreaterThan(0);
    for (const name of ["testum_schedule_missed_fires", "testum_audit_rows", "testum_approvals_pending"]) expect(work.has(name), name).toBe(true);
  });

  it("counts Discord's API calls and 429s by route, with ids left out", async () => {
    const discord = await startFakeDiscord();
    try {
      const api = createDiscordApi({ botToken: discord.botToken, apiUrl: discord.api });
      countDiscordCalls(api.rest);
      const series = async (name: string) =>
        (await processRegistry.getSingleMetric(name)!.get()).values.filter((v) => v.labels.platform === "discord").map((v) => [v.labels.method, v.value]);
      discord.failNext({ method: "GET", pathPattern: /\/applications\/\d+\/commands$/ }, { status: 429, retryAfter: 1 });
      await expect(api.applicationCommands.getGlobalCommands(discord.applicationId)).rejects.toThrow();
      await api.applicationCommands.getGlobalCommands(discord.applicationId);
      expect(await series("testum_chat_api_calls_total")).toEqual([["GET /applications/:id/commands", 2]]);
      expect(await series("testum_chat_api_rate_limited_total")).toEqual([["GET /applications/:id/commands", 1]]);
    } finally {
      await discord.close();
    }
  });
});
