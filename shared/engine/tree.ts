import type { BranchName } from "../domain/trees/actions.js";
import type { StoredAction } from "../domain/trees/tree-store.js";

/**
 * Walking a journey's action tree (ENGINE §5.3, §5.4, §3.2's progress fields).
 *
 * The tree is stored flat, in pre-order, each action naming its parent, its branch
 * ("" at the top level and under no parent) and its 1-based OrderNo within it. A
 * JourneyTree indexes that list once; the runner caches one per (JourneyID,
 * TreeVersion), since a tree version never changes.
 *
 * Unpublished actions are passed over as if absent, and a Decision or YesNo with
 * them its branches. An action is **live** when it and every ancestor are published.
 */

interface Node {
  action: StoredAction;
  parent: Node | undefined;
  /** The sibling list this node is in, and its place there. */
  siblings: Node[];
  index: number;
  branches: Map<string, Node[]>;
  live: boolean;
  /** Live actions in this node's subtree, itself included (0 when it is not live). */
  liveCount: number;
  /** Memo of `aheadAfter`. */
  after?: number;
}

const BRANCHING = new Set<string>(["Decision", "YesNo"]);

export class JourneyTree {
  private readonly nodes = new Map<number, Node>();
  private readonly top: Node[] = [];

  constructor(actions: readonly StoredAction[]) {
    for (const action of actions) {
      this.nodes.set(action.ActionID, { action, parent: undefined, siblings: [], index: 0, branches: new Map(), live: false, liveCount: 0 });
    }
    for (const node of this.nodes.values()) {
      const parentId = node.action.ParentActionID;
      const parent = parentId ? this.nodes.get(parentId) : undefined;
      // An action whose parent is missing could only come from a damaged tree; it is
      // left out (unreachable) rather than promoted to the top level.
      if (parentId && !parent) continue;
      let list: Node[];
      if (parent) {
        node.parent = parent;
        const branch = node.action.Branch || "";
        list = parent.branches.get(branch) ?? [];
        parent.branches.set(branch, list);
      } else {
        list = this.top;
      }
      list.push(node);
      node.siblings = list;
    }
    const position = new Map(actions.map((a, i) => [a.ActionID, i]));
    const byOrder = (a: Node, b: Node) =>
      a.action.OrderNo - b.action.OrderNo || position.get(a.action.ActionID)! - position.get(b.action.ActionID)!;
    const sortAll = (list: Node[]) => {
      list.sort(byOrder);
      list.forEach((n, i) => (n.index = i));
      for (const l of list.flatMap((n) => [...n.branches.values()])) sortAll(l);
    };
    sortAll(this.top);
    // Liveness and counts, top-down then bottom-up.
    const reached = new Set<number>();
    const visit = (list: Node[], parentLive: boolean): number => {
      let sum = 0;
      for (const n of list) {
        reached.add(n.action.ActionID);
        n.live = parentLive && n.action.Published === true;
        let inner = 0;
        for (const l of n.branches.values()) inner += visit(l, n.live);
        n.liveCount = n.live ? 1 + inner : 0;
        sum += n.liveCount;
      }
      return sum;
    };
    visit(this.top, true);
    // What the top level does not reach (an orphan or a parent cycle, only in a damaged
    // tree) is dropped, so every indexed node has a finite chain of ancestors.
    for (const id of [...this.nodes.keys()]) if (!reached.has(id)) this.nodes.delete(id);
  }

  get(actionId: number): StoredAction | undefined {
    return this.nodes.get(actionId)?.action;
  }

  has(actionId: number): boolean {
    return this.nodes.has(actionId);
  }

  /** Published, and so is every ancestor: a cursor reaching it runs it. */
  isLive(actionId: number): boolean {
    return this.nodes.get(actionId)?.live === true;
  }

  /** The actions of one branch of `parentId` (0: the top level), in order, published or not. */
  children(parentId: number, branch: "" | BranchName = ""): StoredAction[] {
    const list = parentId === 0 ? this.top : (this.nodes.get(parentId)?.branches.get(branch) ?? []);
    return list.map((n) => n.action);
  }

  /** The first published action of the top level; 0 when there is none (the enrolment completes at once). */
  first(): number {
    return firstLive(this.top);
  }

  /**
   * The action after `actionId` (§5.3): with a chosen branch of a Decision or YesNo,
   * that branch's first published action; otherwise, or if the branch has none, the
   * following published sibling, then the enclosing branching action's, outward;
   * 0 past the end of the top level. Throws for an action not in the tree (a
   * deleted one goes through its redirect, §5.4).
   */
  next(actionId: number, branch?: BranchName): number {
    const node = this.node(actionId);
    const absent = outermostAbsent(node);
    if (absent) return continuation(absent);
    if (branch && BRANCHING.has(node.action.Action)) {
      const taken = firstLive(node.branches.get(branch) ?? []);
      if (taken) return taken;
    }
    return continuation(node);
  }

  /**
   * The action to run when a cursor is about to start `actionId`: itself when
   * live, else the continuation of the unpublished action that hides it, as if that
   * were absent (publication is checked when an action is about to start, §5.3).
   * 0 means the enrolment completes. Throws for an action not in the tree.
   */
  resolve(actionId: number): number {
    const node = this.node(actionId);
    const absent = outermostAbsent(node);
    return absent ? continuation(absent) : actionId;
  }

  /**
   * Live actions ahead of a cursor at `actionId`, itself included (§3.2): in
   * pre-order, its subtree, its following siblings' subtrees, then each enclosing
   * action's following siblings' subtrees, outward. Branches not yet taken count.
   * 0 for 0 or an action not in the tree.
   */
  ahead(actionId: number): number {
    const node = this.nodes.get(actionId);
    if (!node) return 0;
    return node.liveCount + this.aheadAfter(node);
  }

  /** Live actions after `node`'s subtree: its following siblings' subtrees, then outward. */
  private aheadAfter(node: Node): number {
    if (node.after !== undefined) return node.after;
    let sum = 0;
    // Siblings under a hidden parent are absent; their liveCount is 0 already.
    for (let i = node.index + 1; i < node.siblings.length; i++) sum += node.siblings[i]!.liveCount;
    if (node.parent) sum += this.aheadAfter(node.parent);
    node.after = sum;
    return sum;
  }

  private node(actionId: number): Node {
    const node = this.nodes.get(actionId);
    if (!node) throw new RangeError(`action ${actionId} is not in this tree`);
    return node;
  }
}

function firstLive(list: readonly Node[]): number {
  for (const n of list) if (n.live) return n.action.ActionID;
  return 0;
}

/**
 * The outermost unpublished action among `node` and its ancestors, if any. A cursor
 * inside it (a started Wait under a Decision unpublished since) leaves by its
 * continuation: everything under it is absent, that Wait's later siblings too.
 */
function outermostAbsent(node: Node): Node | undefined {
  let found: Node | undefined;
  for (let n: Node | undefined = node; n; n = n.parent) if (n.action.Published !== true) found = n;
  return found;
}

/**
 * The first live action after `node`'s subtree, never entering a branch: its
 * following siblings, then the enclosing action's, outward; 0 past the top level.
 * Callers pass a node whose ancestors are all published, so a published sibling is live.
 */
function continuation(node: Node): number {
  for (let n: Node | undefined = node; n; n = n.parent) {
    for (let i = n.index + 1; i < n.siblings.length; i++) {
      const s = n.siblings[i]!;
      if (s.action.Published === true) return s.action.ActionID;
    }
  }
  return 0;
}

/**
 * Redirects of a tree edit (§5.4): for each action X of `oldTree` missing from
 * `newTree`, the first action that survives (is in `newTree`, published or not)
 * among X's continuation in the OLD tree: X's following siblings, then those of the
 * enclosing branching action, outward to the top level, never entering a branch;
 * 0 when none does (a cursor there completes).
 */
export function computeRedirects(oldTree: readonly StoredAction[], newTree: readonly StoredAction[]): Map<number, number> {
  const survivors = new Set(newTree.map((a) => a.ActionID));
  const old = new JourneyTree(oldTree);
  const out = new Map<number, number>();
  for (const a of oldTree) {
    if (survivors.has(a.ActionID)) continue;
    out.set(a.ActionID, survivingContinuation(old, a.ActionID, survivors));
  }
  return out;
}

function survivingContinuation(tree: JourneyTree, actionId: number, survivors: ReadonlySet<number>): number {
  for (let id = actionId; id !== 0; ) {
    const a = tree.get(id);
    if (!a) return 0;
    const siblings = tree.children(a.ParentActionID, a.Branch || "");
    const at = siblings.findIndex((s) => s.ActionID === id);
    for (const s of siblings.slice(at + 1)) if (survivors.has(s.ActionID)) return s.ActionID;
    id = a.ParentActionID;
  }
  return 0;
}

/**
 * Follows redirect items (§5.4) from a deleted action, through targets deleted by
 * later edits, to the first that exists in the current tree; 0 means complete.
 * `redirectOf` returns undefined when no redirect is known for an ID (an item not
 * yet written): the result is then undefined and the caller re-queues.
 */
export function followRedirects(
  actionId: number,
  exists: (id: number) => boolean,
  redirectOf: (id: number) => number | undefined,
): number | undefined {
  const seen = new Set<number>();
  let id = actionId;
  while (id !== 0 && !exists(id)) {
    // Redirects only ever point forward in a tree's order, so a cycle means damaged items.
    if (seen.has(id)) throw new Error(`redirect cycle at action ${id}`);
    seen.add(id);
    const target = redirectOf(id);
    if (target === undefined) return undefined;
    id = target;
  }
  return id;
}

/**
 * `CurrentStep` and `TotalSteps` (§3.2). In progress: Passed + 1 of Passed plus the
 * live actions ahead, from the current action (the caller passes a deleted action's
 * redirect). Once ended: Passed of Passed, since nothing is ahead of an ended enrolment.
 */
export function progress(
  tree: JourneyTree,
  passed: number,
  currentActionId: number,
  ended: boolean,
): { CurrentStep: number; TotalSteps: number } {
  if (ended) return { CurrentStep: passed, TotalSteps: passed };
  return { CurrentStep: passed + 1, TotalSteps: passed + tree.ahead(currentActionId) };
}
