/** Structured logs (JSON lines, pino) to stderr, or to a file; never secrets. */
import { type Logger, pino } from 'pino';

export type AgentLogger = Logger;

export function createLogger(options: { level?: string; file?: string } = {}): AgentLogger {
  const destination = options.file
    ? pino.destination({ dest: options.file, append: true, mkdir: true, sync: true })
    : pino.destination({ fd: 2, sync: true });
  return pino({ name: 'aigate-agent', level: options.level ?? 'info', base: { pid: process.pid } }, destination);
}

/** For tests and callers that want no output. */
export function silentLogger(): AgentLogger {
  return pino({ level: 'silent' });
}
