/**
 * Best-effort desktop notifications when a tool becomes warned or blocked: notify-send to each
 * logged-in graphical user on Linux (run as that user, on their session bus), osascript for the
 * console user on macOS, msg on Windows. Never waits long, never fails the cycle: a machine with
 * no desktop simply gets none. Each Linux user reads it in their session's language
 * (user-locale.ts); macOS and Windows get the policy's default language.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';

import { localeFromEnv } from '../../policies/notice-locale.js';
import { NOTICE_TEXTS } from '../../policies/notice-text.js';
import type { AgentLogger } from '../log.js';
import { type Notice, noticeForLocale, type NoticeSet } from './notice.js';
import { sessionLocale } from './user-locale.js';

const TIMEOUT_MS = 5000;

function launch(
  command: string,
  args: string[],
  options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv },
  log: AgentLogger,
): void {
  try {
    const child = spawn(command, args, { stdio: 'ignore', detached: false, timeout: TIMEOUT_MS, ...options });
    child.on('error', (error) => log.debug({ command, error: error.message }, 'desktop notification not shown'));
    child.unref();
  } catch (error) {
    log.debug({ command, error: (error as Error).message }, 'desktop notification not shown');
  }
}

/** Linux: users with a session bus in /run/user/<uid>. */
function linuxSessions(): { uid: number; gid: number; bus: string }[] {
  try {
    return readdirSync('/run/user')
      .filter((name) => /^\d+$/.test(name))
      .map((name) => ({ uid: Number(name), dir: `/run/user/${name}` }))
      .filter(({ dir }) => existsSync(`${dir}/bus`))
      .map(({ uid, dir }) => ({ uid, gid: statSync(dir).gid, bus: `unix:path=${dir}/bus` }));
  } catch {
    return [];
  }
}

const appleScriptString = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** A notification's title and body. */
function shown(notice: Notice): { title: string; body: string } {
  return { title: NOTICE_TEXTS[notice.locale].headline(notice.title), body: notice.summary };
}

export function desktopNotifier(
  log: AgentLogger,
  platform: NodeJS.Platform = process.platform,
): (notices: NoticeSet) => void {
  return (notices) => {
    const { title, body } = shown(noticeForLocale(notices, null));
    if (platform === 'linux') {
      const isRoot = process.getuid?.() === 0;
      for (const session of linuxSessions()) {
        if (!isRoot && session.uid !== process.getuid?.()) continue;
        const locale = isRoot ? sessionLocale(session.uid) : localeFromEnv(process.env);
        const notice = noticeForLocale(notices, locale);
        const { title, body } = shown(notice);
        const env = {
          DBUS_SESSION_BUS_ADDRESS: session.bus,
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          // GLib programs read non-ASCII arguments in the locale's encoding: UTF-8 for Chinese text.
          ...(notice.locale === 'en' ? {} : { LANG: 'C.UTF-8' }),
        };
        launch(
          'notify-send',
          ['--app-name=aigate', `--urgency=${notice.kind === 'block' ? 'critical' : 'normal'}`, title, body],
          isRoot ? { uid: session.uid, gid: session.gid, env } : { env },
          log,
        );
      }
    } else if (platform === 'darwin') {
      let consoleUid: number | null = null;
      try {
        consoleUid = statSync('/dev/console').uid;
      } catch {
        consoleUid = null;
      }
      const script = `display notification ${appleScriptString(body)} with title ${appleScriptString(title)}`;
      if (consoleUid !== null && consoleUid !== 0 && process.getuid?.() === 0)
        launch('launchctl', ['asuser', String(consoleUid), 'osascript', '-e', script], {}, log);
      else launch('osascript', ['-e', script], {}, log);
    } else if (platform === 'win32') {
      launch('msg', ['*', '/TIME:120', `${title}\n\n${body}`], {}, log);
    }
  };
}
