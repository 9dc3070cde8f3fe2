import { ipcMain, type IpcMainInvokeEvent, type WebContents, type WebFrameMain } from 'electron';
import { CHANNEL_NAMES, JOB_EVENT_CHANNEL, ipcChannel } from '../../shared/ipc/contract';
import { fail, type Result } from '../../shared/result';
import { dispatch } from '../engine/api/dispatch';
import type { Handlers } from '../engine/api/handlers';
import type { Engine } from '../engine/engine';

/**
 * The only file that imports ipcMain (lint enforces it). Registers one handler per contract
 * channel; each checks the sender frame, validates through `dispatch` and returns a Result.
 */
export function registerIpc(
  engine: Engine,
  handlers: Handlers,
  isTrustedFrame: (frame: WebFrameMain | null) => boolean,
): () => void {
  for (const name of CHANNEL_NAMES) {
    ipcMain.handle(ipcChannel(name), async (event: IpcMainInvokeEvent, raw: unknown): Promise<Result<unknown>> => {
      if (!isTrustedFrame(event.senderFrame)) {
        engine.logger.warn('ipc call from an untrusted frame refused', { channel: name });
        return fail({ code: 'BAD_INPUT', message: 'Refused: the request did not come from Lifeboat’s own window.' });
      }
      return dispatch(handlers, name, raw, engine.logger);
    });
  }
  return () => {
    for (const name of CHANNEL_NAMES) ipcMain.removeHandler(ipcChannel(name));
  };
}

/** Forward job events to a window for as long as it lives. */
export function forwardJobEvents(engine: Engine, contents: WebContents): void {
  const unsubscribe = engine.jobs.subscribe((event) => {
    if (!contents.isDestroyed()) contents.send(JOB_EVENT_CHANNEL, event);
  });
  contents.once('destroyed', unsubscribe);
}
