import type { StoredAction } from "../domain/tree-store.js";
import type { Cursor } from "./model.js";

/**
 * STUB — replaced at merge by shared/engine/tree.ts's progress().
 *
 * TotalSteps of an enrolment (ENGINE §3.2): `Passed` plus the published actions
 * ahead of the cursor in its journey's tree. That walk belongs to the runner's
 * tree module, written in parallel; until it lands, this stands in with the
 * current action alone ahead of an active enrolment, and nothing ahead of an
 * ended one ("an end fixes both"), so subscriber.get has its shape and its tests.
 */
export function progressTotal(_journeyTree: readonly StoredAction[], cursor: Pick<Cursor, "Passed" | "State">): number {
  const ended = cursor.State === "Completed" || cursor.State === "Exited";
  return ended ? cursor.Passed : cursor.Passed + 1;
}
