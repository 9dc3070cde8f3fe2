import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { CHANNEL_NAMES, JOB_EVENT_CHANNEL, ipcChannel } from '../../shared/ipc/channels';
import type { JobEvent } from '../../shared/domain/jobs';

/**
 * The preload exposes exactly one function per contract channel, plus the job-event
 * subscription; never ipcRenderer itself.
 */
const api: Record<string, unknown> = {};
for (const name of CHANNEL_NAMES) {
  api[name] = (input: unknown) => ipcRenderer.invoke(ipcChannel(name), input ?? {});
}
api.onJobEvent = (listener: (event: JobEvent) => void) => {
  const wrapped = (_event: IpcRendererEvent, payload: JobEvent): void => listener(payload);
  ipcRenderer.on(JOB_EVENT_CHANNEL, wrapped);
  return () => {
    ipcRenderer.removeListener(JOB_EVENT_CHANNEL, wrapped);
  };
};

contextBridge.exposeInMainWorld('lifeboat', Object.freeze(api));
