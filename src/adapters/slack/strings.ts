import { defineStrings } from "../../core/chat/i18n.js";

/** What testum says about Slack itself, in every language it speaks (added to core's catalogue). */
export const SLACK_TEXT = defineStrings({
  en: {
    "adapter.slack.not_in_channel": "testum cannot post in this channel. Invite it first (/invite @testum), or use a public channel.",
    "adapter.slack.archived": "this channel is archived.",
    "adapter.slack.token_refused": "testum's Slack token was refused (check SLACK_BOT_TOKEN).",
    "adapter.slack.refused": "Slack refused the request ({error}).",
    "adapter.slack.form_not_opened": "⚠️ Slack did not open the form. Try the command again.",
  },
  ru: {
    "adapter.slack.not_in_channel": "testum не может писать в этот канал. Сначала пригласите его (/invite @testum) или используйте публичный канал.",
    "adapter.slack.archived": "канал заархивирован.",
    "adapter.slack.token_refused": "токен Slack для testum отклонён (проверьте SLACK_BOT_TOKEN).",
    "adapter.slack.refused": "Slack отклонил запрос ({error}).",
    "adapter.slack.form_not_opened": "⚠️ Slack не открыл форму. Повторите команду.",
  },
});
