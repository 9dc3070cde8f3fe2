import type { JobEvent } from '../domain/jobs';
import type { Result } from '../result';
import type { ChannelInput, ChannelName, ChannelOutput } from './contract';

/** What the renderer sees as `window.lifeboat`: one function per channel plus job events. */
export type LifeboatApi = {
  [K in ChannelName]: (input: ChannelInput<K>) => Promise<Result<ChannelOutput<K>>>;
} & {
  onJobEvent: (listener: (event: JobEvent) => void) => () => void;
};
