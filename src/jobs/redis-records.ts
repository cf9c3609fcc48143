/** How BullMQ's job states and fields read as sarbridge's JobRecord. */
import type { JobType } from 'bullmq';
import type { JobProgress, JobState } from './queue.js';

/** The BullMQ lists and sets that hold the jobs of each state. */
export const BULL_TYPES: Record<JobState, JobType[]> = {
  waiting: ['wait', 'prioritized', 'waiting-children'],
  delayed: ['delayed'],
  active: ['active'],
  completed: ['completed'],
  failed: ['failed'],
};

export function bullState(s: string): JobState {
  switch (s) {
    case 'delayed':
    case 'active':
    case 'completed':
    case 'failed':
      return s;
    default:
      return 'waiting';
  }
}

export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

export function toProgress(p: unknown): JobProgress | null {
  if (p === null || typeof p !== 'object') return null;
  const o = p as Record<string, unknown>;
  if (typeof o.done !== 'number' || typeof o.total !== 'number') return null;
  return typeof o.message === 'string'
    ? { done: o.done, total: o.total, message: o.message }
    : { done: o.done, total: o.total };
}
