/**
 * Fault points of the local test surface (ENGINE §9, `POST /_local/faults`). Armed
 * only through the local routes, which exist only under ENGINE_LOCAL_ROUTES=1, so a
 * deployed function never has a point armed and `take` is one map lookup.
 */
export const FAULT_POINTS = ["after-intent", "after-send", "after-write", "drop-handoff", "duplicate-delivery"] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

// Process-wide (see shared/clock.ts): the local routes and the handlers may be separate module instances.
const armed = ((globalThis as { __journeyFaults?: Map<FaultPoint, number> }).__journeyFaults ??= new Map<FaultPoint, number>());

export function armFault(point: FaultPoint, times: number): void {
  armed.set(point, times);
}

export function clearFaults(): void {
  armed.clear();
}

/** True (and one use spent) when `point` is armed. */
export function takeFault(point: FaultPoint): boolean {
  const left = armed.get(point);
  if (!left) return false;
  if (left <= 1) armed.delete(point);
  else armed.set(point, left - 1);
  return true;
}

/** Thrown at an armed point: the worker dies there, and SQS redelivers its message. */
export class InjectedFault extends Error {
  constructor(point: FaultPoint) {
    super(`injected fault: ${point}`);
    this.name = "InjectedFault";
  }
}
