/** noop: lets everything through; Toxiproxy keeps it for testing the chain itself. */
import { z } from 'zod';
import { passThrough, type StreamToxic } from './toxic.ts';

export const noop: StreamToxic<Record<string, never>> = {
  kind: 'stream',
  type: 'noop',
  attributes: z.object({}),
  defaults: {},
  stage: (_attributes, context) => passThrough(context),
};
