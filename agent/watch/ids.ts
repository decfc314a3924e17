import { randomBytes } from 'node:crypto';

/** Ids that sort by creation time and never collide: '<prefix>-<time base36>-<random hex>'. */
export function newId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
