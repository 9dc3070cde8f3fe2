import { fail, ok, type Result } from '../../../shared/result';
import { CHANNEL_NAMES, contract, type ChannelName } from '../../../shared/ipc/contract';
import { toWireError } from '../errors';
import type { Logger } from '../log/logger';
import type { Handlers } from './handlers';

export function isChannelName(name: string): name is ChannelName {
  return (CHANNEL_NAMES as readonly string[]).includes(name);
}

/**
 * Validate, call, validate, wrap: the one path every IPC call takes, in Electron main and in
 * the web bridge. It never throws and always settles, so no caller is left hanging.
 */
export async function dispatch(
  handlers: Handlers,
  name: string,
  raw: unknown,
  logger: Logger,
): Promise<Result<unknown>> {
  if (!isChannelName(name)) {
    return fail({ code: 'BAD_INPUT', message: `Unknown channel: ${name.slice(0, 60)}` });
  }
  const def = contract[name];
  const input = def.input.safeParse(raw ?? {});
  if (!input.success) {
    const issue = input.error.issues[0];
    return fail({
      code: 'BAD_INPUT',
      message: `Invalid input for ${name}${issue?.path.length ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`,
    });
  }
  try {
    const handler = handlers[name] as (input: unknown) => Promise<unknown>;
    const value = await handler(input.data);
    const output = def.output.safeParse(value);
    if (!output.success) {
      logger.error('handler output does not match the contract', {
        channel: name,
        issues: output.error.issues.slice(0, 3),
      });
      return fail({ code: 'INTERNAL', message: `Lifeboat produced an invalid answer for ${name}; this is a bug.` });
    }
    return ok(output.data);
  } catch (e) {
    const error = toWireError(e);
    logger.warn('ipc call failed', { channel: name, code: error.code, error: error.message });
    return fail(error);
  }
}
