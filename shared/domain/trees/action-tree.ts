import type { ActionNode, BranchName } from "./actions.js";
import { flatten } from "./actions.js";
import type { StoredAction } from "./tree-store.js";

/**
 * Conversions between the parsed input tree, the stored flat list and the wire
 * shape (CONTRACT §8: a flat pre-order list with ParentActionID, Branch, OrderNo).
 */

/** Paths of nodes carrying an ActionID, in the same notation as the parser's messages. */
export function actionIdPaths(actions: ActionNode[], base = "Actions"): Map<number, string> {
  const out = new Map<number, string>();
  actions.forEach((node, i) => {
    const path = `${base}[${i}]`;
    if (node.ActionID !== null) out.set(node.ActionID, `${path}.ActionID`);
    for (const [branch, children] of Object.entries(node.Branches ?? {}) as [BranchName, ActionNode[]][]) {
      for (const [id, p] of actionIdPaths(children, `${path}.Actions.${branch}`)) out.set(id, p);
    }
  });
  return out;
}

/** Flattens a parsed tree into stored actions; `newIds` supplies IDs for nodes without one, in pre-order. */
export function toStored(actions: ActionNode[], newIds: () => number): StoredAction[] {
  const flat = flatten(actions);
  const ids: number[] = flat.map(({ node }) => node.ActionID ?? newIds());
  return flat.map(({ node, parentIndex, branch, orderNo }, i) => ({
    ActionID: ids[i]!,
    Action: node.Action,
    ActionParameters: node.ActionParameters,
    Published: node.Published,
    Notes: node.Notes,
    ParentActionID: parentIndex === null ? 0 : ids[parentIndex]!,
    Branch: branch,
    OrderNo: orderNo,
  }));
}

export const countNew = (actions: ActionNode[]): number =>
  flatten(actions).filter(({ node }) => node.ActionID === null).length;

/** The wire shape of one action. */
export function actionView(a: StoredAction): Record<string, unknown> {
  return {
    ActionID: String(a.ActionID),
    Action: a.Action,
    ActionParameters: a.ActionParameters,
    Published: a.Published,
    Notes: a.Notes,
    ParentActionID: a.ParentActionID,
    Branch: a.Branch,
    OrderNo: a.OrderNo,
  };
}

/** A copy of a stored tree with fresh IDs, structure (parent, branch, order) preserved. */
export function renumber(tree: StoredAction[], firstId: number): StoredAction[] {
  const mapping = new Map(tree.map((a, i) => [a.ActionID, firstId + i]));
  return tree.map((a) => ({
    ...a,
    ActionID: mapping.get(a.ActionID)!,
    ParentActionID: a.ParentActionID === 0 ? 0 : mapping.get(a.ParentActionID)!,
  }));
}
