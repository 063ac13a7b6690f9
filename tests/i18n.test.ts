import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grant } from "../src/core/access/access.js";
import { expireApprovals } from "../src/core/access/approvals.js";
import { createJob, type Job } from "../src/core/jobs/jobs.js";
import { DEFAULT_TEAM_ID } from "./fakes/slack-api.js";
import { commandInteraction, snowflake } from "./helpers/discord-sign.js";
import { jobIdFrom as discordJobId, messageText, startDiscordWorld, type DiscordWorld, type Member } from "./helpers/discord-world.js";
import { blockText, CHANNEL, jobIdFrom, startSlackWorld, type SlackWorld, replyText } from "./helpers/slack-world.js";
import { eventually } from "./helpers/testum.js";

/** Everything a Slack answer shows, as plain text. */
describe("Slack: the user's language from users.info", () => {
  let world: SlackWorld;
  const IVAN = "U0IVAN00001";
  const OLGA = "U0OLGA00001";
  const JOHN = "U0JOHN00001";

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 1 });
    await world.addHost("prod-db", world.ssh.hosts[0]!);
    world.slack.addUser(DEFAULT_TEAM_ID, IVAN, { name: "ivan", locale: "ru-RU" });
    world.slack.addUser(DEFAULT_TEAM_ID, OLGA, { name: "olga", locale: "ru-RU" });
    world.slack.addUser(DEFAULT_TEAM_ID, JOHN, { name: "john", locale: "en-GB" });
    await grant(world.testum.sql, "test", `slack:${DEFAULT_TEAM_ID}:${IVAN}`, "operator", "*");
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("answers /testum help in Russian to a ru-RU user and in English to an en-GB one", async () => {
    const ru = await world.slash("help", IVAN);
    expect(ru.ms).toBeLessThan(3000);
    const text = replyText(ru.json);
    expect(text).toContain("Команды testum");
    // Grouped, one line each.
    expect(text).toContain("Запуск команд и задания");
    expect(text).toContain("/testum run ЦЕЛЬ 'КОМАНДА' — Выполнить shell-команду на хостах");
    expect(text).not.toContain("Show what testum can do");
    // help COMMAND wraps its long lines to fit a message.
    const run = replyText((await world.slash("help run", IVAN)).json);
    expect(run).toContain(
      "/testum run ЦЕЛЬ 'КОМАНДА' [--timeout ДЛИТЕЛЬНОСТЬ] [--parallel ЧИСЛО]\n    [--batch ЧИСЛО] [--max-failures ЧИСЛО] [--dry-run]\n    Выполнить shell-команду на хостах",
    );
    expect(run.replace(/\s+/g, " ")).toContain("--dry-run: Показать, на каких хостах запустилось бы, и ничего не запускать");

    const en = replyText((await world.slash("help", JOHN)).json);
    expect(en).toContain("testum commands");
    expect(en).toContain("/testum run TARGET 'COMMAND' — Run a shell command on hosts");
    expect(en).toContain("/testum help COMMAND");
  });

  it("writes an approval request in the deployment's language for its approvers, and each private answer in its reader's", async () => {
    await grant(world.testum.sql, "test", `slack:${DEFAULT_TEAM_ID}:${JOHN}`, "approver", "*");
    const res = await world.slash("run prod-db 'rm -rf /tmp/testum-i18n-nothing'", IVAN);
    // The requester's own notice: Russian, reasons included.
    const notice = replyText(res.json);
    expect(notice).toMatch(/🔐 Заданию #\d+ на prod-db нужно одобрение перед запуском/);
    expect(notice).toContain("команда выглядит рискованной: рекурсивный rm");
    const id = jobIdFrom(notice);
    const job = await eventually("the approval request", async () => ((await world.job(id)).approvalMessage ? world.job(id) : undefined));
    // The request is for the approvers: TESTUM_LANG (English here), reasons and buttons too.
    const request = world.slack.message(CHANNEL, job.approvalMessage!.split(":")[3]!)!;
    expect(blockText(request.blocks)).toContain(`Approval needed for job #${id}`);
    expect(blockText(request.blocks)).toContain("the command looks risky: recursive rm");
    expect(JSON.stringify(request.blocks)).toContain('"Approve"');
    expect(JSON.stringify(request.blocks)).not.toContain("Одобрить");
    // The job's own messages stay in the requester's language.
    const parent = await eventually("the parent", () => world.slack.message(CHANNEL, job.parentMessage!.split(":")[3]!));
    expect(blockText(parent.blocks)).toContain("Ждёт одобрения для запуска на prod-db");
    // The English approver's answer is English; the request says who approved, in English.
    await world.click(job.approvalMessage!, `t1:approve:${id}`, JOHN);
    await eventually("the approver's answer, in English", () =>
      ((world.slack.responses().at(-1)?.body as { text?: string } | undefined)?.text ?? "").includes(`You approved job #${id}`),
    );
    await world.finished(id);
    const decided = await eventually("the request to show the approval", () => {
      const text = blockText(world.slack.message(CHANNEL, job.approvalMessage!.split(":")[3]!)?.blocks ?? []);
      return text.includes(`Job #${id} approved by`) ? text : undefined;
    });
    expect(decided).not.toMatch(/[а-яё]/i);

    // A risky schedule's request is for approvers too.
    const added = replyText((await world.slash(`schedule add "0 3 * * *" prod-db 'rm -rf /tmp/testum-i18n-nothing' --name cleanup`, IVAN)).json);
    expect(added).toMatch(/🔐 Расписанию #\d+ «cleanup» .* нужно одобрение перед запуском: команда выглядит рискованной: рекурсивный rm/);
    const scheduleId = Number(/#(\d+)/.exec(added)![1]);
    const row = await eventually(
      "the schedule's approval request",
      async () => (await world.testum.sql<{ approvalMessage: string }[]>`select approval_message from schedules where id = ${scheduleId} and approval_message is not null`)[0],
    );
    const scheduleRequest = blockText(world.slack.message(CHANNEL, row!.approvalMessage.split(":")[3]!)!.blocks);
    expect(scheduleRequest).toContain(`Approval needed for scheduled report "cleanup" (#${scheduleId})`);
    expect(scheduleRequest).toContain("the command looks risky: recursive rm");
  });

  it("refuses in Russian, naming what is missing", async () => {
    const res = await world.slash("run prod-db 'uptime'", OLGA);
    const text = replyText(res.json);
    expect(text).toContain("🚫 Нет доступа: нужна роль operator (право run) на prod-db. Ваши роли: ролей нет.");
    expect(text).toContain(`Ваш идентификатор — slack:${DEFAULT_TEAM_ID}:${OLGA}`);
    // Usage mistakes too, with the usage line.
    const usage = replyText((await world.slash("run prod-db 'uptime' --timeout soon", OLGA)).json);
    expect(usage).toContain("--timeout: ожидается длительность, например 30s, 10m или 1h, получено «soon»");
    expect(usage).toContain("Использование: /testum run ЦЕЛЬ 'КОМАНДА' [--timeout ДЛИТЕЛЬНОСТЬ]");
  });

  it("posts a Russian user's job in Russian: the answer, the parent, the live message and the report", async () => {
    const res = await world.slash("run prod-db 'echo привет'", IVAN);
    const answer = replyText(res.json);
    expect(answer).toMatch(/📨 Задание #\d+ поставлено в очередь на prod-db\. Ход и результат — в ветке задания в этом канале\./);
    const job = await world.finished(jobIdFrom(answer));
    expect(job.status).toBe("succeeded");
    expect(job.lang).toBe("ru");

    const parentTs = job.parentMessage!.split(":")[3]!;
    const parent = await eventually("the parent to show the outcome", () => {
      const text = blockText(world.slack.message(CHANNEL, parentTs)?.blocks ?? []);
      // The final frame: the outcome and the links.
      return text.includes("Успешно на prod-db") && text.includes("Полный лог") ? text : undefined;
    });
    expect(parent).toContain("*Команда*\necho привет");
    expect(parent).toContain(`*Автор запроса*\n${IVAN.toLowerCase()}`);
    expect(parent).toContain("*Код возврата*\n0");
    expect(parent).toMatch(/\|Полный лог>/);

    const live = await eventually("the live message to end", () => {
      const text = blockText(world.slack.replies(CHANNEL, parentTs)[0]?.blocks ?? []);
      return text.includes("успешно на prod-db") ? text : undefined;
    });
    expect(live).toContain("привет");
    expect(live).toContain("✅ успешно на prod-db · 1 строка");

    const report = await eventually("the report", async () => {
      const res = await fetch(`${world.testum.url}/reports/${job.logToken}`);
      return res.ok ? res.text() : undefined;
    });
    expect(report).toContain(`задание testum #${job.id}: echo привет`);
    expect(report).toContain("ХОСТ     СТАТУС      КОД   ВРЕМЯ     ЛОГ / ПРОБЛЕМА");
    expect(report).toMatch(/prod-db {2}успешно {5}/);

    // Replies follow the reader: the English-speaking admin reads about the Russian job in English.
    const show = replyText((await world.slash(`jobs show ${job.id}`)).json);
    expect(show).toContain(`Job #${job.id}`);
    expect(show).toContain("status:    succeeded");
  });

  it("writes what is stored about a job in its language, also when many jobs change at once", async () => {
    const [host] = await world.testum.sql<{ id: number; name: string }[]>`select id, name from hosts where name = 'prod-db'`;
    const job = await createJob(world.testum.sql, {
      command: "uptime",
      target: "prod-db",
      hosts: [host!],
      requestedBy: `slack:${DEFAULT_TEAM_ID}:${IVAN}`,
      conversation: `slack:${DEFAULT_TEAM_ID}:${CHANNEL}`,
      timeoutMs: 60_000,
      lang: "ru",
      approval: { reasons: ["проверка"], hash: "h", required: 1, expiresAt: new Date(Date.now() - 1000) },
    });
    // The reaper may get there first; either way the row says it in Russian.
    await expireApprovals(world.testum.sql);
    const [expired] = await world.testum.sql<Job[]>`select * from jobs where id = ${job.id}`;
    expect(expired).toMatchObject({ status: "expired", error: "не одобрено вовремя; команда не выполнялась" });
  });
});

describe("Discord: the interaction's locale", () => {
  let world: DiscordWorld;
  const stranger: Member = { id: snowflake(), username: "mallory" };

  beforeAll(async () => {
    world = await startDiscordWorld({ hosts: 1 });
    await world.addHost("prod-db", world.ssh.hosts[0]!);
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("answers help, refusals and platform refusals in Russian for locale ru", async () => {
    const help = await world.command(["help"], {}, world.admin, { locale: "ru" });
    expect(help.text).toContain("Команды testum");
    expect(help.text).toContain("Выполнить shell-команду на хостах");

    const refused = await world.command(["run"], { target: "prod-db", command: "uptime" }, stranger, { locale: "ru" });
    expect(refused.text).toContain("Нет доступа: нужна роль operator (право run) на prod-db");

    const dm = await world.send(commandInteraction({ ...world.base(), guildId: undefined, locale: "ru", subcommand: "help" }));
    expect(dm.text).toContain("testum работает в каналах сервера, а не в личных сообщениях");

    const english = await world.command(["help"], {}, world.admin, { locale: "en-US" });
    expect(english.text).toContain("testum commands");
  });

  it("posts the job of a ru user in Russian", async () => {
    const answer = await world.command(["run"], { target: "prod-db", command: "echo hi" }, world.admin, { locale: "ru" });
    expect(answer.text).toMatch(/Задание #\d+ поставлено в очередь на prod-db/);
    const job = await world.finished(discordJobId(answer.text));
    expect(job.lang).toBe("ru");
    const parentId = job.parentMessage!.split(":")[3]!;
    const parent = await eventually("the parent to show the outcome", () => {
      const text = messageText(world.discord.message(parentId));
      return text.includes("Успешно на prod-db") && text.includes("Полный лог") ? text : undefined;
    });
    expect(parent).toContain("Автор запроса: Alice (ops)");
    expect(parent).toContain("Код возврата: 0");
    expect(parent).toContain("[Полный лог]");
  });
});

describe("TESTUM_LANG=ru", () => {
  let world: SlackWorld;
  const MARK = "U0MARK00001";

  beforeAll(async () => {
    world = await startSlackWorld({ hosts: 1, testum: { env: { TESTUM_LANG: "ru" } } });
    world.slack.addUser(DEFAULT_TEAM_ID, MARK, { name: "mark", locale: "en-US" });
  });

  afterAll(async () => {
    await world?.stop();
  });

  it("makes Russian the language of people whose platform does not say theirs", async () => {
    // The admin is unknown to users.info: no locale, so TESTUM_LANG decides.
    const text = replyText((await world.slash("hosts")).json);
    expect(text).toContain("Хостов пока нет.");
    const help = replyText((await world.slash("help schedule")).json);
    expect(help).toContain("Справка testum: schedule");
    expect(help).toContain("Запускать команду по cron-расписанию с отчётами в этот канал");
    // A locale the platform does tell still wins.
    expect(replyText((await world.slash("help", MARK)).json)).toContain("testum commands");
  });
});
