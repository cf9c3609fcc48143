import type { FastifyRequest } from 'fastify';
import type { StacItem } from '../catalog/types.js';

export type Action = 'read' | 'search' | 'write' | 'tiles';

/**
 * The one place where the server decides access. Every route asks it before it reads or writes;
 * releasability labels on items and partner organisations (a later issue) plug in here, without
 * touching the routes. Until then the catalog is open: `openAccess` allows everything.
 */
export interface AccessPolicy {
  /** Throws ForbiddenError when the request may not do `action` (on `item`, when there is one). */
  authorize(req: FastifyRequest, action: Action, item: StacItem | null): Promise<void>;
}

export const openAccess: AccessPolicy = {
  async authorize() {},
};
