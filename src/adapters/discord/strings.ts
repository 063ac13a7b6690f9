import { defineStrings } from "../../core/chat/i18n.js";

/** What testum says about Discord itself, in every language it speaks (added to core's catalogue). */
export const DISCORD_TEXT = defineStrings({
  en: {
    "adapter.discord.token_refused": "testum's Discord bot token was refused (check DISCORD_BOT_TOKEN).",
    "adapter.discord.no_permission": "testum may not post here. Give it View Channel, Send Messages, Create Public Threads and Send Messages in Threads in this channel.",
    "adapter.discord.unknown_channel": "the channel no longer exists, or testum cannot see it.",
    "adapter.discord.thread_archived": "the job's thread is archived and locked, so testum cannot post in it.",
    "adapter.discord.wrong_channel_type": "testum cannot start a thread in this kind of channel.",
    "adapter.discord.refused": "Discord refused the request ({code}: {problem}).",
    "adapter.discord.http_error": "Discord is not answering properly (HTTP {status}); try again shortly.",
    "adapter.discord.unreachable": "Discord could not be reached; try again shortly.",
    "adapter.discord.dm_refusal": "testum works in server channels, not in direct messages. Run /testum in a channel of your server.",
    "adapter.discord.not_installed": "testum is not installed in this server, so it cannot post here. A server admin can add it with the install link of the testum application.",
    "adapter.discord.no_channel": "testum could not tell which channel this came from. Nothing was done.",
    "adapter.discord.only_testum": "testum only answers /testum. Nothing was done.",
    "adapter.discord.form_from_form": "That needs another form, which Discord cannot open from a form. Nothing was done.",
    "adapter.discord.form_too_late": "This needs a form, which Discord cannot open this late. Please try again.",
  },
  ru: {
    "adapter.discord.token_refused": "токен бота Discord для testum отклонён (проверьте DISCORD_BOT_TOKEN).",
    "adapter.discord.no_permission":
      "testum не может писать здесь. Дайте ему в этом канале права «Просматривать канал», «Отправлять сообщения», «Создавать публичные ветки» и «Отправлять сообщения в ветках».",
    "adapter.discord.unknown_channel": "канала больше нет, или testum его не видит.",
    "adapter.discord.thread_archived": "ветка задания заархивирована и закрыта, testum не может в ней писать.",
    "adapter.discord.wrong_channel_type": "в канале такого типа testum не может создать ветку.",
    "adapter.discord.refused": "Discord отклонил запрос ({code}: {problem}).",
    "adapter.discord.http_error": "Discord отвечает с ошибкой (HTTP {status}); повторите чуть позже.",
    "adapter.discord.unreachable": "Discord недоступен; повторите чуть позже.",
    "adapter.discord.dm_refusal": "testum работает в каналах сервера, а не в личных сообщениях. Запустите /testum в канале вашего сервера.",
    "adapter.discord.not_installed":
      "testum не установлен на этом сервере, поэтому не может здесь писать. Администратор сервера может добавить его по ссылке установки приложения testum.",
    "adapter.discord.no_channel": "testum не смог определить, из какого канала пришёл запрос. Ничего не сделано.",
    "adapter.discord.only_testum": "testum отвечает только на /testum. Ничего не сделано.",
    "adapter.discord.form_from_form": "Для этого нужна ещё одна форма, а Discord не открывает форму из формы. Ничего не сделано.",
    "adapter.discord.form_too_late": "Для этого нужна форма, а Discord уже не может её открыть. Попробуйте ещё раз.",
  },
});
